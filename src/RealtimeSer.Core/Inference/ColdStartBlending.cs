using RealtimeSer.Core.Models;

namespace RealtimeSer.Core.Inference;

/// <summary>The cold-start blend of a window's two score vectors (manifest <c>adaptation.cold_start.blend</c>).</summary>
public static class ColdStartBlending
{
    /// <summary>
    /// Writes the blended logits of <paramref name="cold"/> and <paramref name="adapted"/> with the cold head's
    /// <paramref name="weight"/> (0–1; at 0 the cold scores are not read), divided by
    /// <paramref name="temperature"/>. In probability space the blend is <c>log p</c> of the mixture, so a softmax
    /// of it gives the mixture back (at temperature 1).
    /// </summary>
    public static void Blend(
        BlendSpace space,
        double weight,
        double temperature,
        ReadOnlySpan<float> cold,
        ReadOnlySpan<float> adapted,
        Span<float> logits
    )
    {
        var n = adapted.Length;
        if (cold.Length != n || logits.Length < n)
        {
            throw new ArgumentException($"{n} scores expected from each head.");
        }
        if (weight <= 0 || space == BlendSpace.Logits)
        {
            for (var i = 0; i < n; i++)
            {
                var z = weight <= 0 ? adapted[i] : (weight * cold[i]) + ((1 - weight) * adapted[i]);
                logits[i] = (float)(z / temperature);
            }
            return;
        }
        double coldMax = float.NegativeInfinity,
            adaptedMax = float.NegativeInfinity;
        for (var i = 0; i < n; i++)
        {
            coldMax = Math.Max(coldMax, cold[i]);
            adaptedMax = Math.Max(adaptedMax, adapted[i]);
        }
        double coldSum = 0,
            adaptedSum = 0;
        for (var i = 0; i < n; i++)
        {
            coldSum += Math.Exp(cold[i] - coldMax);
            adaptedSum += Math.Exp(adapted[i] - adaptedMax);
        }
        for (var i = 0; i < n; i++)
        {
            var p =
                (weight * Math.Exp(cold[i] - coldMax) / coldSum)
                + ((1 - weight) * Math.Exp(adapted[i] - adaptedMax) / adaptedSum);
            logits[i] = (float)(Math.Log(Math.Max(p, 1e-30)) / temperature);
        }
    }
}
