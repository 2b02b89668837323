import Foundation

/// What a diffusers SDXL folder has besides an SD 1.x/2.x folder's parts: `text_encoder_2/`,
/// `tokenizer_2/` and `force_zeros_for_empty_prompt` in `model_index.json`.
struct SDXLFolderParts {
    let textEncoder2: ModelComponent<CLIPTextConfig>
    let tokenizer2Directory: String?
    let forceZerosForEmptyPrompt: Bool
    let files: [SafeTensorsFile]

    /// The parts of the folder at `root`, or nil when it has no `text_encoder_2/` (not SDXL).
    static func open(root: String, name: String) throws -> SDXLFolderParts? {
        guard DiffusersFolder.isFolder(root + "/text_encoder_2") else { return nil }
        let config = try DiffusersFolder.config(CLIPTextConfig.self, root: root, component: "text_encoder_2")
        try config.validate(file: root + "/text_encoder_2/config.json")
        let files = try DiffusersFolder.weightFiles(root: root, component: "text_encoder_2")
        let weights = try WeightStore(files: files, source: "\(name)/text_encoder_2", rename: textEncoder2Name)
        return SDXLFolderParts(textEncoder2: ModelComponent(config: config, weights: weights),
                               tokenizer2Directory: DiffusersFolder.tokenizerDirectory(root: root, name: "tokenizer_2"),
                               forceZerosForEmptyPrompt: try forceZeros(root: root), files: files)
    }

    /// `text_projection.*` stays where `CLIPTextModelWithProjection` keeps it; every other key
    /// gets the `text_model.` level as the first encoder's do.
    static func textEncoder2Name(_ name: String) -> String {
        name.hasPrefix("text_projection.") ? name : CompVisKeyMap.withTextModelLevel(name)
    }

    /// `force_zeros_for_empty_prompt` from `model_index.json`; `StableDiffusionXLPipeline`'s
    /// default (true) when the file or the key is absent.
    static func forceZeros(root: String) throws -> Bool {
        let path = root + "/model_index.json"
        guard let data = FileManager.default.contents(atPath: path) else { return true }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw WeightError.badConfig(file: path, key: "(file)", detail: "is not a JSON object")
        }
        guard let value = object["force_zeros_for_empty_prompt"] else { return true }
        guard let flag = value as? Bool else {
            throw WeightError.badConfig(file: path, key: "force_zeros_for_empty_prompt", detail: "must be true or false")
        }
        return flag
    }

    func addToHash(_ hash: inout ModelContentHash) {
        for file in files { hash.add(file: file) }
        hash.add(config: textEncoder2.config)
        hash.add("force_zeros_for_empty_prompt=\(forceZerosForEmptyPrompt)")
    }
}
