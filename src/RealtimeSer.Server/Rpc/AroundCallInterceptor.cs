using Grpc.Core;
using Grpc.Core.Interceptors;

namespace RealtimeSer.Server;

/// <summary>
/// An interceptor that runs the same code around every kind of call the server has (unary, server streaming,
/// duplex): the handler is one <see cref="Func{Task}"/> to <see cref="AroundAsync"/>.
/// </summary>
internal abstract class AroundCallInterceptor : Interceptor
{
    protected abstract Task AroundAsync(ServerCallContext context, Func<Task> call);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation
    )
    {
        TResponse? response = null;
        await AroundAsync(context, async () => response = await continuation(request, context));
        return response!;
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation
    ) => AroundAsync(context, () => continuation(request, responseStream, context));

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation
    ) => AroundAsync(context, () => continuation(requestStream, responseStream, context));
}
