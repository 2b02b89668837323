import Foundation

/// A LoRA `.safetensors` file split into layers, in either of the two layouts people have:
///
/// - kohya / AUTOMATIC1111: `lora_unet_<module>.lora_down.weight`, `.lora_up.weight` and
///   optionally `.alpha`, `lora_te_<module>...` for the text encoder, where `<module>` is the
///   module's dotted name with every dot written as `_` (LoCon adds 3x3 convolutions the same way);
/// - diffusers / PEFT: `unet.<module>.lora_A.weight` and `.lora_B.weight` (older diffusers files:
///   `.lora.down.weight` / `.lora.up.weight`), `text_encoder.<module>...`, with dotted names;
///   the alphas come from diffusers' `lora_adapter_metadata` (`PEFTAdapterConfig`); without it
///   the scale is 1, as diffusers loads such files. An optional `<module>.alpha` is honoured as
///   in kohya files.
///
/// Parsing reads only the header; which model layer each entry means is decided later, against
/// the model's own names (`LoRATargets`).
public struct LoRAFile: Sendable {
    public enum Layout: String, Sendable {
        case kohya, peft
    }

    /// One low-rank pair as the file names it.
    public struct Layer: Sendable {
        public let component: LoRAComponent
        /// The module as the file spells it: `down_blocks_0_attentions_0_proj_in` (kohya,
        /// without the `lora_unet_` prefix) or `down_blocks.0.attentions.0.proj_in` (PEFT).
        public let module: String
        /// The name in the file, for messages (`lora_unet_down_blocks_0_..._proj_in`).
        public let fileName: String
        public let up: StoredTensor
        public let down: StoredTensor
        public let alpha: Float?
        /// PEFT's rank-stabilized scaling: `alpha / sqrt(rank)` instead of `alpha / rank`.
        public var rankStabilized = false

        /// `alpha / rank` (or `alpha / sqrt(rank)`), 1 without alpha: what the weight multiplies.
        public func scale(rank: Int) -> Float {
            guard let alpha else { return 1 }
            return alpha / (rankStabilized ? Float(rank).squareRoot() : Float(rank))
        }
    }

    public let path: String
    public let layout: Layout
    public let layers: [Layer]
    let file: SafeTensorsFile

    /// Suffixes of LoRA variants that cannot be merged as `up @ down` (LyCORIS LoHa, LoKr, Tucker
    /// LoCon, DoRA); a file that has them is refused rather than half applied.
    static let unsupportedMarkers = ["hada_", "lokr_", "lora_mid", "dora_scale", "lora_magnitude_vector", ".diff", "oft_"]

    /// Reads the header of the LoRA at `path` and groups its tensors into layers.
    /// Throws `LoRAError` naming the file and the first offending key.
    public init(path: String) throws {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw LoRAError.unreadable(file: path, detail: "\(error)") }
        self.file = file
        self.path = path
        let names = file.names
        guard !names.isEmpty else { throw LoRAError.notALoRA(file: path, detail: "it holds no tensors") }
        if let odd = names.first(where: { name in Self.unsupportedMarkers.contains(where: name.contains) }) {
            throw LoRAError.unsupportedVariant(file: path, key: odd)
        }
        if names.allSatisfy({ $0.hasPrefix("lora_unet_") || $0.hasPrefix("lora_te_") }) {
            layout = .kohya
            layers = try Self.kohyaLayers(file)
        } else if names.allSatisfy({ $0.hasPrefix("unet.") || $0.hasPrefix("text_encoder.") }) {
            layout = .peft
            let config = try PEFTAdapterConfig(metadata: file.metadata, path: path)
            layers = try Self.peftLayers(file).map { config.applied(to: $0) }
        } else {
            let odd = names.first { !($0.hasPrefix("lora_unet_") || $0.hasPrefix("lora_te_") || $0.hasPrefix("unet.") || $0.hasPrefix("text_encoder.")) }
                ?? names[0]
            let sdxl = odd.hasPrefix("lora_te1_") || odd.hasPrefix("lora_te2_") || odd.hasPrefix("text_encoder_2.")
            throw LoRAError.notALoRA(file: path, detail: sdxl
                ? "key '\(odd)' belongs to an SDXL LoRA (two text encoders); sdcluster runs SD 1.x"
                : "key '\(odd)' is neither kohya (lora_unet_*, lora_te_*) nor diffusers/PEFT (unet.*, text_encoder.*)")
        }
    }

    /// kohya: `lora_unet_X.lora_down.weight`, `lora_unet_X.lora_up.weight`, `lora_unet_X.alpha`.
    private static func kohyaLayers(_ file: SafeTensorsFile) throws -> [Layer] {
        try group(file, suffixes: ["down": [".lora_down.weight"], "up": [".lora_up.weight"], "alpha": [".alpha"]]) { stem in
            if stem.hasPrefix("lora_unet_") { return (.unet, String(stem.dropFirst("lora_unet_".count))) }
            return (.textEncoder, String(stem.dropFirst("lora_te_".count)))
        }
    }

    /// PEFT / diffusers: `unet.X.lora_A.weight`, `unet.X.lora_B.weight`, optional `unet.X.alpha`.
    private static func peftLayers(_ file: SafeTensorsFile) throws -> [Layer] {
        try group(file, suffixes: ["down": [".lora_A.weight", ".lora.down.weight"],
                                   "up": [".lora_B.weight", ".lora.up.weight"], "alpha": [".alpha"]]) { stem in
            if stem.hasPrefix("unet.") { return (.unet, String(stem.dropFirst("unet.".count))) }
            return (.textEncoder, String(stem.dropFirst("text_encoder.".count)))
        }
    }

    /// Groups keys `STEM + suffix` by stem; every stem needs a down and an up factor.
    private static func group(_ file: SafeTensorsFile, suffixes: [String: [String]],
                              module: (String) -> (LoRAComponent, String)) throws -> [Layer] {
        var parts: [String: [String: String]] = [:]
        for name in file.names {
            guard let (role, suffix) = suffixes.lazy.flatMap({ role, list in list.map { (role, $0) } })
                .first(where: { name.hasSuffix($0.1) }) else {
                throw LoRAError.notALoRA(file: file.path, detail: "key '\(name)' is not a LoRA factor "
                    + "(expected names ending in \(suffixes.values.flatMap { $0 }.sorted().joined(separator: ", ")))")
            }
            let stem = String(name.dropLast(suffix.count))
            guard parts[stem, default: [:]][role] == nil else {
                throw LoRAError.notALoRA(file: file.path, detail: "layer '\(stem)' has two \(role) tensors")
            }
            parts[stem, default: [:]][role] = name
        }
        return try parts.keys.sorted().map { stem in
            let found = parts[stem]!
            guard let down = found["down"], let up = found["up"] else {
                throw LoRAError.notALoRA(file: file.path, detail: "layer '\(stem)' lacks its \(found["down"] == nil ? "down (A)" : "up (B)") factor")
            }
            var alpha: Float?
            if let key = found["alpha"] {
                let value = try file.tensor(key)
                guard value.count == 1 else {
                    throw LoRAError.notALoRA(file: file.path, detail: "'\(key)' has \(value.count) values, not one")
                }
                alpha = value.pointer[0]
            }
            let (component, name) = module(stem)
            return Layer(component: component, module: name, fileName: stem,
                         up: StoredTensor(file: file, key: up), down: StoredTensor(file: file, key: down), alpha: alpha)
        }
    }

    /// AUTOMATIC1111's `Lora hashes` entry: the first 12 hex digits of the SHA-256 of the tensor
    /// data (everything after the header, kohya's "addnet" hash). Reads the whole file.
    public func shortHash() -> String { String(file.sha256Hex(from: file.dataOffset).prefix(12)) }

    /// 16 hex digits over the file's size, header and sampled data (`ModelContentHash`): what
    /// cluster nodes compare to know they hold the same LoRA.
    public var contentHash: String {
        var hash = ModelContentHash()
        hash.add(file: file)
        return hash.hex
    }
}

/// The network a LoRA layer changes.
public enum LoRAComponent: String, Sendable {
    case unet
    case textEncoder = "text encoder"
}
