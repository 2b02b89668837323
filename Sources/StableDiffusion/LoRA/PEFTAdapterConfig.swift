import Foundation

/// The LoRA configs diffusers' `save_lora_weights` stores in a file's safetensors metadata under
/// `lora_adapter_metadata`: a JSON object of each component's PEFT `LoraConfig`, keys prefixed
/// with the component (`unet.lora_alpha`, `unet.r`, `unet.alpha_pattern`, `unet.use_rslora`,
/// `text_encoder.lora_alpha`, ...). diffusers' `load_lora_weights` builds the adapters from it,
/// so a layer's scale is `lora_alpha / rank` (its `alpha_pattern` entry where one matches).
struct PEFTAdapterConfig {
    struct Component {
        var alpha: Float?
        var alphaPattern: [String: Float] = [:]
        var rankStabilized = false
    }

    static let metadataKey = "lora_adapter_metadata"
    private var components: [LoRAComponent: Component] = [:]

    /// Reads the config from `metadata`; none there means no alphas (scale 1, as diffusers does).
    init(metadata: [String: String], path: String) throws {
        guard let text = metadata[Self.metadataKey] else { return }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw LoRAError.notALoRA(file: path, detail: "its \(Self.metadataKey) metadata is not a JSON object")
        }
        for (component, prefix) in [(LoRAComponent.unet, "unet."), (.textEncoder, "text_encoder.")] {
            var config = Component()
            config.alpha = (object[prefix + "lora_alpha"] as? NSNumber)?.floatValue
            config.rankStabilized = (object[prefix + "use_rslora"] as? Bool) ?? false
            for (pattern, value) in (object[prefix + "alpha_pattern"] as? [String: Any]) ?? [:] {
                guard let number = value as? NSNumber else {
                    throw LoRAError.notALoRA(file: path, detail: "alpha_pattern entry '\(pattern)' is not a number")
                }
                config.alphaPattern[pattern.hasPrefix("^") ? String(pattern.dropFirst()) : pattern] = number.floatValue
            }
            components[component] = config
        }
    }

    /// `layer` with the alpha its component's config gives it (a pattern naming the module, or
    /// the module name ending in `.` + pattern, wins over `lora_alpha`). A `.alpha` tensor in
    /// the file itself is kept.
    func applied(to layer: LoRAFile.Layer) -> LoRAFile.Layer {
        guard layer.alpha == nil, let config = components[layer.component] else { return layer }
        let patterned = config.alphaPattern.first { pattern, _ in
            layer.module == pattern || layer.module.hasSuffix("." + pattern)
        }?.value
        var result = LoRAFile.Layer(component: layer.component, module: layer.module, fileName: layer.fileName,
                                    up: layer.up, down: layer.down, alpha: patterned ?? config.alpha)
        result.rankStabilized = config.rankStabilized
        return result
    }
}
