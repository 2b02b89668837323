import Foundation

/// Everything that can go wrong between a file on disk and a named float32 tensor.
///
/// Each message names the file (and the key where there is one), says what was wrong and what to
/// do about it, so a user who points `--model` at the wrong thing can fix it without reading code.
public enum WeightError: Error, CustomStringConvertible, Equatable {
    /// A pickle checkpoint (`.ckpt`, `.bin`, `.pt`, `.pth`): loading one can execute arbitrary code.
    case pickleRefused(file: String)
    case cannotOpen(file: String, reason: String)
    /// The file is shorter than its own header says it is.
    case truncated(file: String, detail: String)
    /// The header is not valid JSON, or not the shape safetensors requires.
    case badHeader(file: String, detail: String)
    /// A tensor's byte range falls outside the data section or disagrees with its shape.
    case badOffsets(file: String, key: String, detail: String)
    case unsupportedDType(file: String, key: String, dtype: String)
    case missingKey(source: String, key: String)
    case wrongShape(source: String, key: String, expected: [Int], found: [Int], hint: String)
    case surplusKeys(source: String, keys: [String])
    /// Two sources claim the same tensor name.
    case duplicateKey(source: String, key: String)
    case modelNotFound(path: String, detail: String)
    /// LoRA layers aimed at weights that the model never read.
    case unappliedUpdates(source: String, keys: [String])
    case badConfig(file: String, key: String, detail: String)
    /// An SD 2.x single file without a config folder: whether it predicts v or epsilon is not in it.
    case predictionTypeNeeded(file: String)

    public var description: String {
        switch self {
        case .pickleRefused(let file):
            return "\(file): refusing to load a pickle checkpoint (.ckpt/.bin/.pt/.pth): unpickling can run "
                + "arbitrary code. Download the model's .safetensors files instead, or convert once in Python: "
                + "`sd = torch.load(path, weights_only=True); sd = sd.get(\"state_dict\", sd); "
                + "safetensors.torch.save_file(sd, \"model.safetensors\")`."
        case .cannotOpen(let file, let reason):
            return "\(file): cannot open (\(reason)). Check the path and its permissions."
        case .truncated(let file, let detail):
            return "\(file): file is truncated (\(detail)). Download it again; the copy is incomplete."
        case .badHeader(let file, let detail):
            return "\(file): not a valid safetensors file (\(detail)). Check that it is a .safetensors file "
                + "and not a renamed pickle or an HTML error page."
        case .badOffsets(let file, let key, let detail):
            return "\(file): tensor '\(key)' has invalid data offsets (\(detail)). The file is damaged; download it again."
        case .unsupportedDType(let file, let key, let dtype):
            return "\(file): tensor '\(key)' has dtype \(dtype); only F32, F16 and BF16 are supported. "
                + "Convert the weights to float16 or float32 safetensors."
        case .missingKey(let source, let key):
            return "\(source): weight '\(key)' is missing. The weights do not match the model config; "
                + "check that config.json belongs to these weights."
        case .wrongShape(let source, let key, let expected, let found, let hint):
            return "\(source): weight '\(key)' has shape \(found) but the config expects \(expected). \(hint)"
        case .surplusKeys(let source, let keys):
            let shown = keys.prefix(8).joined(separator: ", ")
            let more = keys.count > 8 ? " and \(keys.count - 8) more" : ""
            return "\(source): \(keys.count) weight(s) were not used by the model: \(shown)\(more). "
                + "The config describes a smaller model than the weights; use the config.json that came with them."
        case .duplicateKey(let source, let key):
            return "\(source): weight '\(key)' appears more than once across the weight files. Remove the duplicate file."
        case .unappliedUpdates(let source, let keys):
            return "\(source): LoRA layers for \(keys.prefix(8).joined(separator: ", "))\(keys.count > 8 ? " and \(keys.count - 8) more" : "") "
                + "were never applied: the model does not read these weights. The LoRA was made for another model."
        case .modelNotFound(let path, let detail):
            return "\(path): \(detail)"
        case .badConfig(let file, let key, let detail):
            return "\(file): config key '\(key)' \(detail). Fix the value or remove the key to use the diffusers default."
        case .predictionTypeNeeded(let file):
            return "\(file): an SD 2.x checkpoint, whose file does not say what its UNet predicts. Pass "
                + "--prediction-type v_prediction for the 768-v models (SD 2.0-v, SD 2.1 and their fine-tunes, "
                + "768x768) or --prediction-type epsilon for the 512-base ones, or --config with its diffusers folder."
        }
    }
}
