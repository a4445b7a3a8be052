using System.Text.Json.Serialization;

namespace MaMA.Engine.Serialization;

/// <summary>
/// Enum values in JSON config files as their names only. System.Text.Json's string converter also
/// accepts any integer, defined or not (<c>"precision": 3</c>), which hides a typo; this one refuses
/// numbers, so the value must be one of the names the enum's <c>JsonStringEnumMemberName</c>
/// attributes give.
/// </summary>
/// <typeparam name="TEnum">The enum.</typeparam>
public sealed class StringEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(namingPolicy: null, allowIntegerValues: false)
    where TEnum : struct, Enum;
