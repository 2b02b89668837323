import Foundation

/// File lookup inside a diffusers model folder (`model_index.json`, `unet/`, `text_encoder/`,
/// `vae/`, `tokenizer/`, `scheduler/`).
enum DiffusersFolder {
    /// Weight file base names per component folder (diffusers models vs transformers models).
    static let weightBaseNames = ["unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model",
                                  "text_encoder": "model", "text_encoder_2": "model"]

    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// Whether `path` looks like a diffusers pipeline folder.
    static func isPipelineFolder(_ path: String) -> Bool {
        isFile(path + "/model_index.json") || isFolder(path + "/unet")
    }

    /// The safetensors files holding component `component` of the folder at `root`: the full
    /// precision file, else the `fp16` variant, else the shards listed by an index file.
    /// A folder with only pickle files is refused with a message saying how to convert.
    static func weightFiles(root: String, component: String) throws -> [SafeTensorsFile] {
        let folder = root + "/" + component
        guard isFolder(folder) else {
            throw WeightError.modelNotFound(path: root, detail: "no \(component)/ folder; a diffusers model folder needs "
                + "unet/, text_encoder/ and vae/ (or pass a single .safetensors checkpoint)")
        }
        let base = folder + "/" + (weightBaseNames[component] ?? "model")
        for candidate in [base + ".safetensors", base + ".fp16.safetensors"] where isFile(candidate) {
            return [try SafeTensorsFile(path: candidate)]
        }
        for index in [base + ".safetensors.index.json", base + ".safetensors.index.fp16.json"] where isFile(index) {
            return try shards(listedIn: index, folder: folder)
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let safetensors = names.filter { $0.hasSuffix(".safetensors") }.sorted()
        if safetensors.count == 1 { return [try SafeTensorsFile(path: folder + "/" + safetensors[0])] }
        if let pickle = names.sorted().first(where: { SafeTensorsFile.pickleExtensions.contains(($0 as NSString).pathExtension) }) {
            throw WeightError.pickleRefused(file: folder + "/" + pickle)
        }
        throw WeightError.modelNotFound(path: folder, detail: "no weights found: expected "
            + "\((base as NSString).lastPathComponent).safetensors or its .fp16.safetensors variant")
    }

    /// Shard files named by a `*.safetensors.index.json` (`{"weight_map": {name: file}}`).
    private static func shards(listedIn index: String, folder: String) throws -> [SafeTensorsFile] {
        guard let data = FileManager.default.contents(atPath: index),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = object["weight_map"] as? [String: String] else {
            throw WeightError.badConfig(file: index, key: "weight_map", detail: "is missing or not a name-to-file object")
        }
        return try Set(map.values).sorted().map { try SafeTensorsFile(path: folder + "/" + $0) }
    }

    /// `tokenizer/` when it holds `vocab.json` and `merges.txt`.
    static func tokenizerDirectory(root: String, name: String = "tokenizer") -> String? {
        let folder = root + "/" + name
        return isFile(folder + "/vocab.json") && isFile(folder + "/merges.txt") ? folder : nil
    }

    static func schedulerConfig(root: String) -> Data? {
        FileManager.default.contents(atPath: root + "/scheduler/scheduler_config.json")
    }

    /// Loads and validates `component/config.json`.
    static func config<C: ModelConfig>(_ type: C.Type, root: String, component: String) throws -> C {
        try C.load(from: root + "/" + component + "/config.json")
    }
}
