using System.Text.Json;

namespace RealtimeSer.Core.Models;

/// <summary>Reads a model directory in either supported layout; every problem is an error naming the file.</summary>
public static class ModelManifestLoader
{
    public const string ManifestFile = "manifest.json";

    /// <summary>
    /// Loads from a directory, a manifest.json, or a model.onnx whose directory holds the metadata.
    /// Project layout: manifest.json next to the ONNX file. Hugging Face export: model.onnx + config.json
    /// (id2label) + optional preprocessor_config.json (do_normalize, sampling_rate).
    /// </summary>
    public static ModelManifest Load(string path)
    {
        var full = Path.GetFullPath(path);
        string dir;
        if (System.IO.Directory.Exists(full))
        {
            dir = full;
        }
        else if (File.Exists(full))
        {
            dir = Path.GetDirectoryName(full)!;
            if (Path.GetFileName(full) != ManifestFile && !File.Exists(Path.Combine(dir, ManifestFile)))
            {
                return FromHuggingFace(dir, full);
            }
        }
        else
        {
            throw new FileNotFoundException(
                $"model {path} not found: give a model directory (manifest.json + ONNX file, or a converted "
                    + "Hugging Face directory), a manifest.json or a model.onnx.",
                path
            );
        }
        var manifest = Path.Combine(dir, ManifestFile);
        if (File.Exists(manifest))
        {
            return FromManifest(manifest);
        }
        if (File.Exists(Path.Combine(dir, "config.json")))
        {
            return FromHuggingFace(dir, Path.Combine(dir, "model.onnx"));
        }
        throw new InvalidDataException(
            $"{dir} is not a model directory: it has neither {ManifestFile} nor config.json. "
                + "Convert a Hugging Face checkpoint with tools/model/convert_hf.py."
        );
    }

    private static ModelManifest FromManifest(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var dir = Path.GetDirectoryName(path)!;
            var modelFile = OptionalString(root, "model") ?? OptionalString(root, "onnx") ?? "model.onnx";
            var labels = root.GetProperty("labels")
                .EnumerateArray()
                .Select(l => LabelNames.Normalize(l.GetString()!))
                .ToList();
            var window = root.TryGetProperty("window", out var w) ? w : default;
            return Validate(
                new ModelManifest
                {
                    Id = OptionalString(root, "id") ?? Path.GetFileName(dir),
                    Name = OptionalString(root, "name"),
                    ModelPath = Path.Combine(dir, modelFile),
                    Labels = labels,
                    SampleRate = root.TryGetProperty("sample_rate", out var sr) ? sr.GetInt32() : 16000,
                    Input = OptionalString(root, "input") ?? "input_values",
                    Output = OptionalString(root, "output") ?? "logits",
                    OutputKind = OptionalString(root, "output_kind") switch
                    {
                        null or "logits" => ModelOutputKind.Logits,
                        "probabilities" or "probs" => ModelOutputKind.Probabilities,
                        var other => throw new InvalidDataException($"unknown output_kind '{other}'"),
                    },
                    Normalization = ParseNormalization(OptionalString(root, "normalization")),
                    MinWindowSeconds = OptionalDouble(window, "min_s") ?? 0.5,
                    RecommendedWindowSeconds = OptionalDouble(window, "recommended_s") ?? 2.0,
                    RecommendedHopSeconds = OptionalDouble(window, "hop_s") ?? 0.5,
                    Metrics = root.TryGetProperty("metrics", out var m) ? m.Clone() : null,
                    Source = root.TryGetProperty("source", out var s) ? s.ToString() : null,
                    TrainingCorpora = ParseCorpora(root),
                    Temperature = OptionalDouble(root, "temperature") ?? 1.0,
                    Adaptation = ParseAdaptation(root, dir, path),
                },
                path
            );
        }
        catch (Exception e)
            when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path} is not a valid model manifest: {e.Message}", e);
        }
    }

    private static SpeakerAdaptation? ParseAdaptation(JsonElement root, string dir, string path)
    {
        if (!root.TryGetProperty("adaptation", out var a) || a.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        var kind = OptionalString(a, "kind");
        if (kind != "speaker_zscore")
        {
            throw new InvalidDataException(
                $"{path}: adaptation kind '{kind}' is not supported (this version knows speaker_zscore)."
            );
        }
        float[] Vector(string name) =>
            a.GetProperty(name).EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
        var adaptation = new SpeakerAdaptation(
            Path.Combine(dir, OptionalString(a, "head") ?? "head.onnx"),
            OptionalString(a, "head_input") ?? "features",
            OptionalString(a, "head_output") ?? "logits",
            OptionalDouble(a, "prior_windows") ?? 0,
            Vector("prior_mean"),
            Vector("prior_var")
        );
        if (
            adaptation.PriorMean.Length == 0
            || adaptation.PriorVariance.Length != adaptation.PriorMean.Length
            || adaptation.PriorVariance.Any(v => !(v > 0))
            || !(adaptation.PriorWindows >= 0)
        )
        {
            throw new InvalidDataException(
                $"{path}: adaptation needs prior_mean and prior_var of the same non-zero length, variances > 0 "
                    + "and prior_windows ≥ 0."
            );
        }
        if (!File.Exists(adaptation.HeadPath))
        {
            throw new FileNotFoundException(
                $"{path} names the head graph {adaptation.HeadPath}, which does not exist.",
                adaptation.HeadPath
            );
        }
        return adaptation with { ColdStart = ParseColdStart(a, dir, path) };
    }

    // adaptation.cold_start (optional): {"head": "cold_head.onnx", "head_input": "features", "head_output":
    // "logits", "blend": {"space": "probabilities" | "logits", "windows": [1, 2, ...], "cold_weight": [...],
    // "temperature": [...] (optional)}}
    private static ColdStart? ParseColdStart(JsonElement adaptation, string dir, string path)
    {
        if (!adaptation.TryGetProperty("cold_start", out var c) || c.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (c.ValueKind != JsonValueKind.Object || !c.TryGetProperty("blend", out var b))
        {
            throw new InvalidDataException(
                $"{path}: adaptation.cold_start needs a head and a blend (windows, cold_weight)."
            );
        }
        double[] Numbers(string name) =>
            b.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
                ? v.EnumerateArray().Select(x => x.GetDouble()).ToArray()
                : [];
        var space = OptionalString(b, "space") switch
        {
            null or "probabilities" => BlendSpace.Probabilities,
            "logits" => BlendSpace.Logits,
            var other => throw new InvalidDataException(
                $"{path}: cold_start blend space '{other}' is not known (probabilities | logits)."
            ),
        };
        var temperature = Numbers("temperature");
        var blend = new ColdStartBlend(
            space,
            Numbers("windows"),
            Numbers("cold_weight"),
            temperature.Length == 0 ? null : temperature
        );
        var increasing = true;
        for (var i = 1; i < blend.Windows.Length; i++)
        {
            increasing &= blend.Windows[i] > blend.Windows[i - 1];
        }
        if (
            blend.Windows.Length == 0
            || blend.ColdWeight.Length != blend.Windows.Length
            || !increasing
            || !(blend.Windows[0] >= 1)
            || blend.ColdWeight.Any(w => !(w >= 0 && w <= 1))
            || (
                blend.Temperature is { } t
                && (t.Length != blend.Windows.Length || t.Any(v => !(v > 0 && double.IsFinite(v))))
            )
        )
        {
            throw new InvalidDataException(
                $"{path}: cold_start blend needs windows (≥ 1, increasing), as many cold_weight values in [0, 1] "
                    + "and, if given, as many temperatures > 0."
            );
        }
        var cold = new ColdStart(
            Path.Combine(dir, OptionalString(c, "head") ?? "cold_head.onnx"),
            OptionalString(c, "head_input") ?? "features",
            OptionalString(c, "head_output") ?? "logits",
            blend
        );
        if (!File.Exists(cold.HeadPath))
        {
            throw new FileNotFoundException(
                $"{path} names the cold-start head {cold.HeadPath}, which does not exist.",
                cold.HeadPath
            );
        }
        return cold;
    }

    private static List<TrainingCorpus> ParseCorpora(JsonElement root)
    {
        if (
            !root.TryGetProperty("source", out var source)
            || source.ValueKind != JsonValueKind.Object
            || !source.TryGetProperty("corpora", out var list)
            || list.ValueKind != JsonValueKind.Array
        )
        {
            return [];
        }
        return list.EnumerateArray()
            .Select(c =>
                c.ValueKind == JsonValueKind.String
                    ? new TrainingCorpus(c.GetString()!, null, null)
                    : new TrainingCorpus(
                        c.GetProperty("id").GetString()!,
                        OptionalString(c, "language"),
                        OptionalString(c, "licence")
                    )
            )
            .ToList();
    }

    private static ModelManifest FromHuggingFace(string dir, string onnx)
    {
        var config = Path.Combine(dir, "config.json");
        if (!File.Exists(config))
        {
            throw new InvalidDataException(
                $"{dir} has {Path.GetFileName(onnx)} but no config.json with id2label."
            );
        }
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(config));
            var id2label = doc.RootElement.GetProperty("id2label");
            var labels = id2label
                .EnumerateObject()
                .Select(p =>
                    (
                        Index: int.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture),
                        Label: p.Value.GetString()!
                    )
                )
                .OrderBy(p => p.Index)
                .Select(p => LabelNames.Normalize(p.Label))
                .ToList();
            var normalization = InputNormalization.None;
            var sampleRate = 16000;
            var preprocessor = Path.Combine(dir, "preprocessor_config.json");
            if (File.Exists(preprocessor))
            {
                using var pre = JsonDocument.Parse(File.ReadAllText(preprocessor));
                if (pre.RootElement.TryGetProperty("do_normalize", out var dn) && dn.GetBoolean())
                {
                    normalization = InputNormalization.ZeroMeanUnitVariance;
                }
                if (pre.RootElement.TryGetProperty("sampling_rate", out var rate))
                {
                    sampleRate = rate.GetInt32();
                }
            }
            return Validate(
                new ModelManifest
                {
                    Id = Path.GetFileName(dir),
                    ModelPath = onnx,
                    Labels = labels,
                    SampleRate = sampleRate,
                    Normalization = normalization,
                    Source = "huggingface export",
                },
                config
            );
        }
        catch (Exception e)
            when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{config} is not a usable Hugging Face config: {e.Message}", e);
        }
    }

    private static ModelManifest Validate(ModelManifest manifest, string source)
    {
        if (manifest.Labels.Count < 2)
        {
            throw new InvalidDataException($"{source}: a model needs at least two labels.");
        }
        if (manifest.Labels.Distinct().Count() != manifest.Labels.Count)
        {
            throw new InvalidDataException($"{source}: labels repeat: {string.Join(", ", manifest.Labels)}.");
        }
        if (manifest.SampleRate != 16000)
        {
            throw new InvalidDataException(
                $"{source}: sample rate {manifest.SampleRate} Hz; RealtimeSer models take 16000 Hz."
            );
        }
        if (!File.Exists(manifest.ModelPath))
        {
            throw new FileNotFoundException(
                $"{source} names {manifest.ModelPath}, which does not exist.",
                manifest.ModelPath
            );
        }
        if (
            manifest.MinWindowSeconds <= 0
            || manifest.RecommendedWindowSeconds < manifest.MinWindowSeconds
            || manifest.RecommendedHopSeconds <= 0
        )
        {
            throw new InvalidDataException(
                $"{source}: window settings must satisfy 0 < min ≤ recommended and hop > 0."
            );
        }
        return manifest;
    }

    private static string? OptionalString(JsonElement e, string name) =>
        Optional(e, name, JsonValueKind.String) is { } v ? v.GetString() : null;

    private static double? OptionalDouble(JsonElement e, string name) =>
        Optional(e, name, JsonValueKind.Number) is { } v ? v.GetDouble() : null;

    /// <summary>The property when <paramref name="e"/> is an object that has it, of that kind.</summary>
    private static JsonElement? Optional(JsonElement e, string name, JsonValueKind kind) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == kind
            ? v
            : null;

    private static InputNormalization ParseNormalization(string? value) =>
        value switch
        {
            null or "none" => InputNormalization.None,
            "zero_mean_unit_var" or "zero_mean_unit_variance" => InputNormalization.ZeroMeanUnitVariance,
            _ => throw new InvalidDataException(
                $"unknown normalization '{value}' (none | zero_mean_unit_var)"
            ),
        };
}
