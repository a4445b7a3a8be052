namespace MaMA.Evaluation.ZeroShot;

/// <summary>One image to classify: its file, the base of its own report (empty for RSNA) and its true class.</summary>
/// <param name="ImagePath">The image file (DICOM, PNG or JPEG).</param>
/// <param name="BaseText">Procedure + reason + patient info + image info of the image's report (SPEC section 1, instance prompts).</param>
/// <param name="Label">The true class index in [0, K).</param>
public sealed record ZeroShotSample(string ImagePath, string BaseText, int Label);
