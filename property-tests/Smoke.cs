namespace LuoModel.PropertyTests;
public class Smoke { [Fact] public void Builds() => Assert.True(true); }
