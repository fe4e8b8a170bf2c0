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
        for (var i = 0; i < input.Length; i++)
        {
            var x = input[i];
            if (!float.IsFinite(x))
            {
                x = 0;
            }
            var y = x - _previousInput + Pole * _previousOutput;
            _previousInput = x;
            _previousOutput = y;
            output[i] = y;
        }
        return output[..input.Length];
    }
}
