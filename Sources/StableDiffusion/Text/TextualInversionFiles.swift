import Compute
import Foundation

extension TextualInversionLibrary {
    /// The embeddings in `directory` (`--embedding-dir`), each named by its file name without
    /// the extension, as A1111 names them; sub-folders are searched too.
    ///
    /// - `.safetensors` files are loaded now: one tensor (A1111's `emb_params`, a flattened
    ///   `string_to_param.*`, or a diffusers concept's single key) of shape `[D]` or `[n, D]`,
    ///   `D` = `hiddenSize`; anything else is an error naming the file.
    /// - pickle files (`.pt`, `.bin`, `.ckpt`, ...) are not opened (unpickling runs code): a
    ///   prompt that names one is refused with a message saying how to convert it.
    /// - Throws: `TextualInversionError` for an unreadable folder or an invalid `.safetensors`
    ///   file, `WeightError` for a file that is not safetensors at all.
    public init(directory: String, tokenizer: CLIPTokenizer, hiddenSize: Int) throws {
        var embeddings: [TextualInversionEmbedding] = []
        var refusals: [Refusal] = []
        for path in try Self.files(in: directory) {
            let url = URL(fileURLWithPath: path)
            let name = url.deletingPathExtension().lastPathComponent, ext = url.pathExtension.lowercased()
            if ext == "safetensors" {
                embeddings.append(try Self.load(path: path, name: name, hiddenSize: hiddenSize))
            } else if SafeTensorsFile.pickleExtensions.contains(ext) {
                refusals.append(Refusal(name: name, reason: "\(path) is a pickle file, which sdcluster does not open (loading it runs code); convert it to .safetensors (in Python: torch.load it, then safetensors.torch.save_file({\"emb_params\": vectors}, \"\(name).safetensors\"))"))
            }
        }
        let names = embeddings.map(\.name) + refusals.map(\.name)
        if let twice = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw TextualInversionError.unreadableDirectory(path: directory, reason: "two files are named '\(twice)' (in different folders or with different extensions); rename one")
        }
        self.init(embeddings: embeddings, refusals: refusals, tokenizer: tokenizer)
    }

    /// One `.safetensors` embedding file.
    public static func load(path: String, name: String, hiddenSize: Int) throws -> TextualInversionEmbedding {
        let file = try SafeTensorsFile(path: path)
        let names = file.names
        if names.contains("clip_l") || names.contains("clip_g") {
            throw TextualInversionError.invalidFile(path: path, reason: "an SDXL embedding (clip_l / clip_g); SD v1 takes one tensor of width \(hiddenSize)")
        }
        guard names.count == 1, let key = names.first else {
            throw TextualInversionError.invalidFile(path: path, reason: "has \(names.count) tensors (\(names.prefix(5).joined(separator: ", "))); an embedding has exactly one (emb_params or string_to_param.*)")
        }
        let tensor = try file.tensor(key)
        let rows: Int
        switch tensor.shape.count {
        case 1 where tensor.shape[0] == hiddenSize: rows = 1
        case 2 where tensor.shape[1] == hiddenSize && tensor.shape[0] >= 1: rows = tensor.shape[0]
        default:
            throw TextualInversionError.invalidFile(path: path, reason: "tensor '\(key)' has shape \(tensor.shape); this text encoder takes [vectors, \(hiddenSize)] (an embedding for another model?)")
        }
        let values = tensor.values
        guard values.allSatisfy(\.isFinite) else {
            throw TextualInversionError.invalidFile(path: path, reason: "tensor '\(key)' holds NaN or infinite values")
        }
        let vectors = (0..<rows).map { Array(values[($0 * hiddenSize)..<(($0 + 1) * hiddenSize)]) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        return TextualInversionEmbedding(name: name, vectors: vectors, contentHash: SHA256.hex(bytes))
    }

    /// Regular files under `directory`, sorted, so the result is the same on every machine.
    private static func files(in directory: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TextualInversionError.unreadableDirectory(path: directory, reason: "no such folder")
        }
        guard let walker = FileManager.default.enumerator(atPath: directory) else {
            throw TextualInversionError.unreadableDirectory(path: directory, reason: "cannot be listed")
        }
        var out: [String] = []
        while let relative = walker.nextObject() as? String {
            let path = (directory as NSString).appendingPathComponent(relative)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue { out.append(path) }
        }
        return out.sorted()
    }
}
