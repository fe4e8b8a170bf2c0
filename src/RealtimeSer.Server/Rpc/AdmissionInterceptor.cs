using Grpc.Core;
using Grpc.Core.Interceptors;

namespace RealtimeSer.Server;

/// <summary>
/// The recognizer's admission rules before each call (<see cref="StreamAdmission"/>: key, shutdown, rate,
/// server and per-key stream limits, adaptive admission). Calls that hold a stream slot keep it until they
/// end; ListModels is only authenticated and counted against the key's rate.
/// </summary>
internal sealed class AdmissionInterceptor(StreamAdmission admission) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation
    )
    {
        if (context.Method == EmotionService.ListModelsPath)
        {
            _ = admission.AuthenticateCall(Authorization(context));
            return await continuation(request, context);
        }
        using var slot = admission.Admit(Authorization(context));
        return await continuation(request, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation
    )
    {
        using var slot = admission.Admit(Authorization(context));
        await continuation(requestStream, responseStream, context);
    }

    private static string? Authorization(ServerCallContext context) =>
        context.RequestHeaders.GetValue("authorization");
}
