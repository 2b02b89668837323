import Foundation

/// What can be wrong with the LoRAs a request names; every message names the LoRA (file or tag)
/// and says what to do. All of these are found before any image is started.
public enum LoRAError: Error, CustomStringConvertible, Equatable {
    /// A `<lora:...>` tag or `loras` entry that cannot be read.
    case badReference(text: String, detail: String)
    /// The same LoRA named twice for one image.
    case namedTwice(name: String)
    /// No `--lora-dir`, or no file for the name in it.
    case notFound(name: String, directory: String?, detail: String)
    case unreadable(file: String, detail: String)
    case notALoRA(file: String, detail: String)
    case unsupportedVariant(file: String, key: String)
    /// A layer of the file that matches no layer of the model.
    case noSuchLayer(file: String, key: String, component: LoRAComponent)
    /// A layer whose factors do not fit the model's weight.
    case wrongShape(file: String, key: String, target: String, detail: String)
    /// A request given to a pipeline built with other LoRAs (a programming error of the caller).
    case pipelineMismatch(requested: String, loaded: String)

    public var description: String {
        switch self {
        case .badReference(let text, let detail):
            return "LoRA reference '\(text)': \(detail). Write <lora:NAME:WEIGHT> in the prompt, or "
                + "\"loras\": [{\"name\": NAME, \"weight\": WEIGHT}] in JSONL."
        case .namedTwice(let name):
            return "LoRA '\(name)' is named twice for one image; name it once, with the weight you want."
        case .notFound(let name, let directory, let detail):
            guard let directory else {
                return "LoRA '\(name)': no LoRA folder given. Pass --lora-dir DIR with \(name).safetensors in it."
            }
            return "LoRA '\(name)': \(detail) in \(directory). Put \(name).safetensors there or fix the name."
        case .unreadable(let file, let detail):
            return "\(file): cannot read this LoRA: \(detail)"
        case .notALoRA(let file, let detail):
            return "\(file): not a LoRA sdcluster can read: \(detail)."
        case .unsupportedVariant(let file, let key):
            return "\(file): key '\(key)' belongs to a LoRA variant that is not a plain low-rank pair "
                + "(LyCORIS LoHa / LoKr / Tucker, DoRA, OFT); only LoRA and LoCon (lora_down / lora_up) can be merged."
        case .noSuchLayer(let file, let key, let component):
            return "\(file): layer '\(key)' matches no layer of the model's \(component.rawValue). "
                + "The LoRA was made for another model (SD 1.x LoRAs only), or the model is not the one it expects."
        case .wrongShape(let file, let key, let target, let detail):
            return "\(file): layer '\(key)' does not fit the model's '\(target)' (\(detail)). "
                + "The LoRA was made for a model of another size."
        case .pipelineMismatch(let requested, let loaded):
            return "the request asks for LoRAs [\(requested)] but the model was built with [\(loaded)]; "
                + "build the pipeline for the request's LoRA set (StableDiffusionPipeline.forLoRAs)"
        }
    }
}
