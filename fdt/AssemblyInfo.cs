[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("LuoModel.Tests")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("LuoModel.PropertyTests")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("bench")]
