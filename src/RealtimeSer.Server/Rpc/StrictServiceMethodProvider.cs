using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace RealtimeSer.Server;

/// <summary>
/// Binds every generated service as Grpc.AspNetCore's own binder does, but with request marshallers that
/// answer a malformed request message INTERNAL, as grpc-go, grpc-java and grpc-core do. Grpc.AspNetCore alone
/// reports it as an exception in the handler: UNKNOWN, logged as a server error for every bad client.
/// </summary>
internal sealed class StrictServiceMethodProvider<TService> : IServiceMethodProvider<TService>
    where TService : class
{
    /// <summary>Takes the place of Grpc.AspNetCore's binder-based provider (call after AddGrpc).</summary>
    public static void Replace(IServiceCollection services)
    {
        var generic = typeof(IServiceMethodProvider<>);
        var library = services.SingleOrDefault(d =>
            d.ServiceType == generic
            && d.ImplementationType?.Name.StartsWith("Binder", StringComparison.Ordinal) == true
        );
        if (library is not null)
        {
            services.Remove(library);
        }
        services.AddSingleton(generic, typeof(StrictServiceMethodProvider<>));
    }

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        for (var type = typeof(TService); type is not null; type = type.BaseType)
        {
            if (type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is { } bind)
            {
                var method = bind.BindType.GetMethod(
                    bind.BindMethodName,
                    BindingFlags.Public | BindingFlags.Static,
                    [typeof(ServiceBinderBase), type]
                );
                method?.Invoke(null, [new Binder(context), null]);
                return;
            }
        }
    }

    private sealed class Binder(ServiceMethodProviderContext<TService> context) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(
            Method<TRequest, TResponse> method,
            UnaryServerMethod<TRequest, TResponse>? handler
        )
        {
            var (invoker, metadata) = Handler<UnaryServerMethod<TService, TRequest, TResponse>>(
                method.Name,
                typeof(TRequest),
                typeof(ServerCallContext)
            );
            context.AddUnaryMethod(Strict(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(
            Method<TRequest, TResponse> method,
            ClientStreamingServerMethod<TRequest, TResponse>? handler
        )
        {
            var (invoker, metadata) = Handler<ClientStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name,
                typeof(IAsyncStreamReader<TRequest>),
                typeof(ServerCallContext)
            );
            context.AddClientStreamingMethod(Strict(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(
            Method<TRequest, TResponse> method,
            ServerStreamingServerMethod<TRequest, TResponse>? handler
        )
        {
            var (invoker, metadata) = Handler<ServerStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name,
                typeof(TRequest),
                typeof(IServerStreamWriter<TResponse>),
                typeof(ServerCallContext)
            );
            context.AddServerStreamingMethod(Strict(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(
            Method<TRequest, TResponse> method,
            DuplexStreamingServerMethod<TRequest, TResponse>? handler
        )
        {
            var (invoker, metadata) = Handler<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name,
                typeof(IAsyncStreamReader<TRequest>),
                typeof(IServerStreamWriter<TResponse>),
                typeof(ServerCallContext)
            );
            context.AddDuplexStreamingMethod(Strict(method), metadata, invoker);
        }

        /// <summary>The service's implementation of a method, and the endpoint metadata the library would give it.</summary>
        private static (TDelegate Invoker, List<object> Metadata) Handler<TDelegate>(
            string name,
            params Type[] parameters
        )
            where TDelegate : Delegate
        {
            var target =
                typeof(TService).GetMethod(name, BindingFlags.Public | BindingFlags.Instance, parameters)
                ?? throw new InvalidOperationException($"Could not find '{name}' on {typeof(TService)}.");
            return (
                target.CreateDelegate<TDelegate>(),
                [
                    .. typeof(TService).GetCustomAttributes(inherit: true),
                    .. target.GetCustomAttributes(inherit: true),
                    new HttpMethodMetadata(["POST"], acceptCorsPreflight: true),
                ]
            );
        }

        private static Method<TRequest, TResponse> Strict<TRequest, TResponse>(
            Method<TRequest, TResponse> method
        )
            where TRequest : class
            where TResponse : class
        {
            var marshaller = method.RequestMarshaller;
            return new Method<TRequest, TResponse>(
                method.Type,
                method.ServiceName,
                method.Name,
                Marshallers.Create(
                    marshaller.ContextualSerializer,
                    deserialization =>
                    {
                        try
                        {
                            return marshaller.ContextualDeserializer(deserialization);
                        }
                        catch (InvalidProtocolBufferException e)
                        {
                            throw new RpcException(
                                new Status(StatusCode.Internal, "Malformed message: " + e.Message)
                            );
                        }
                    }
                ),
                method.ResponseMarshaller
            );
        }
    }
}
