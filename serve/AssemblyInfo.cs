[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("LuoModel.Tests")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("luo")]
