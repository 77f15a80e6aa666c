[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("LuoModel.Tests")]
