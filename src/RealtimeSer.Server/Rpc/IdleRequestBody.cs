using System.Globalization;
using System.IO.Pipelines;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace RealtimeSer.Server;

/// <summary>
/// Cuts off recognizer calls whose request body delivers no complete message for
/// <see cref="ServerOptions.StreamIdleTimeoutSeconds"/>: DEADLINE_EXCEEDED, slot freed. This is what ends
/// clients that vanish without a reset and slow-loris clients that trickle a frame a byte at a time (Kestrel's
/// minimum data rate is off for gRPC streams, whose bodies are legitimately slow). The clock runs only while
/// the service waits for a message, from its first read until a message is consumed, so time the server spends
/// on a message never counts against the client.
/// </summary>
internal static class IdleRequestBody
{
    /// <summary>Middleware: wraps the body of every call to <paramref name="pathPrefix"/>.</summary>
    public static Func<HttpContext, RequestDelegate, Task> For(ServerOptions options, string pathPrefix) =>
        (context, next) =>
        {
            var timeout = TimeSpan.FromSeconds(options.StreamIdleTimeoutSeconds);
            if (
                timeout > TimeSpan.Zero
                && context.Request.Path.StartsWithSegments(pathPrefix, StringComparison.Ordinal)
            )
            {
                var reader = new IdlePipeReader(context.Request.BodyReader, timeout);
                context.Features.Set<IRequestBodyPipeFeature>(new BodyFeature(reader));
                context.Response.RegisterForDispose(reader);
            }
            return next(context);
        };

    private sealed class BodyFeature(PipeReader reader) : IRequestBodyPipeFeature
    {
        public PipeReader Reader => reader;
    }

    private sealed class IdlePipeReader(PipeReader inner, TimeSpan timeout) : PipeReader, IDisposable
    {
        private readonly CancellationTokenSource _idle = new();
        private bool _timing;
        private SequencePosition _start;

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            if (!_timing)
            {
                _timing = true;
                _idle.CancelAfter(timeout);
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(
                cancellationToken,
                _idle.Token
            );
            try
            {
                var result = await inner.ReadAsync(linked.Token);
                _start = result.Buffer.Start;
                return result;
            }
            catch (OperationCanceledException)
                when (_idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new RpcException(
                    new Status(
                        StatusCode.DeadlineExceeded,
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"No complete request message for {timeout.TotalSeconds:0.###} s: the server ends idle streams; send audio at least that often."
                        )
                    )
                );
            }
        }

        public override bool TryRead(out ReadResult result)
        {
            var read = inner.TryRead(out result);
            if (read)
            {
                _start = result.Buffer.Start;
            }
            return read;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            if (!consumed.Equals(_start) && _timing && !_idle.IsCancellationRequested)
            {
                // A message was taken off the body: the clock stops until the service asks for the next one.
                _timing = false;
                _idle.CancelAfter(Timeout.InfiniteTimeSpan);
            }
            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) =>
            inner.CompleteAsync(exception);

        public void Dispose() => _idle.Dispose();
    }
}
