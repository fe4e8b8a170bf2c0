namespace RealtimeSer.Onnx;

/// <summary>An ONNX Runtime failure (or a call we rejected before it reached ORT), with ORT's code and text.</summary>
public sealed class OnnxException : Exception
{
    public OnnxException()
        : this(OnnxErrorCode.Fail, "ONNX Runtime error") { }

    public OnnxException(string message)
        : this(OnnxErrorCode.Fail, message) { }

    public OnnxException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = OnnxErrorCode.Fail;
        NativeMessage = message;
    }

    public OnnxException(
        OnnxErrorCode errorCode,
        string message,
        string? nativeMessage = null,
        Exception? innerException = null
    )
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        NativeMessage = nativeMessage ?? message;
    }

    public OnnxErrorCode ErrorCode { get; }

    /// <summary>ORT's own message, without our context prefix.</summary>
    public string NativeMessage { get; }
}
