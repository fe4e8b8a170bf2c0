namespace RealtimeSer.Server;

/// <summary>
/// The server cannot listen where it was told to: the address is taken (another <c>ser serve</c>, or anything else
/// on that port). Its message says which port and setting to change.
/// </summary>
public sealed class ListenException(string message, Exception? inner = null) : IOException(message, inner);
