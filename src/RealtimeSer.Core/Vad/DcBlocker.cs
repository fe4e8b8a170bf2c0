namespace RealtimeSer.Core.Vad;

/// <summary>
/// A one-pole high-pass (about 12 Hz at 16 kHz) in front of the VAD. Silero was trained on audio without a DC
/// offset; real lines and cheap microphones have one, and a step in it can hide the speech that follows.
/// Only the VAD's copy is filtered: the classifier sees the audio as it came.
/// </summary>
internal sealed class DcBlocker
{
    private const float Pole = 0.995f;
    private float _previousInput;
    private float _previousOutput;

    public ReadOnlySpan<float> Filter(ReadOnlySpan<float> input, Span<float> output)
    {
        // The recurrence runs in locals: through the fields, every sample waited on a store and a reload.
        var previousInput = _previousInput;
        var previousOutput = _previousOutput;
        output = output[..input.Length];
        for (var i = 0; i < input.Length; i++)
        {
            var x = input[i];
            if (!float.IsFinite(x))
            {
                x = 0;
            }
            var y = x - previousInput + Pole * previousOutput;
            previousInput = x;
            previousOutput = y;
            output[i] = y;
        }
        _previousInput = previousInput;
        _previousOutput = previousOutput;
        return output;
    }
}
