import Foundation
import ImageIO
import StableDiffusion

/// The coordinator's output folder: `<root>/<batch>/<index>-<seed>.png` (naming and PNG writing
/// are `OutputFolder`'s, shared with `generate`) and `<root>/<batch>/manifest.jsonl`.
struct ImageWriter {
    let root: String
    var folder: OutputFolder { OutputFolder(root: root) }

    func batchDirectory(_ batchId: String) -> String { folder.directory(batchId) }

    /// `00007-42.png`: the same naming as `generate`'s output folder.
    static func fileName(index: Int, seed: UInt64) -> String { OutputFolder.fileName(index: index, seed: seed) }

    /// Writes the PNG atomically (a temporary file renamed into place).
    func writePNG(rgb: [UInt8], width: Int, height: Int, request: GenerationRequest, unetEvaluations: Int,
                  engine: String?, weightFields: [GenerationParameters.Field] = [], batchId: String, fileName: String) throws {
        let parameters = GenerationParameters(request: request, unetEvaluations: unetEvaluations, engine: engine,
                                              otherFields: weightFields)
        try folder.writePNG(RGBImage(width: width, height: height, pixels: rgb), parameters: parameters.text,
                            fileName: fileName, in: batchId)
    }

    func readPNG(batchId: String, fileName: String) -> [UInt8]? { folder.read(fileName, in: batchId) }

    /// The manifest line: the request's fields (JSONL names), index, file, batch, UNet
    /// evaluations used and what plain guidance would have used, the workers that served it,
    /// their engine fingerprint, and its restarts on another engine class (when it had any).
    static func manifestLine(key: ImageKey, request: GenerationRequest, fileName: String, unetEvaluations: Int,
                             plainGuidanceEvaluations: Int, workers: [String], engine: String?,
                             engineRestarts: [EngineRestart] = []) throws -> String {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? [String: Any] ?? [:]
        object["batch"] = key.batchId
        object["index"] = key.index
        object["file"] = fileName
        object["unet_evaluations"] = unetEvaluations
        object["plain_guidance_evaluations"] = plainGuidanceEvaluations
        object["workers"] = workers
        if let engine { object["engine"] = engine }
        if !engineRestarts.isEmpty {
            object["engine_restarts"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(engineRestarts))
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    func appendManifest(_ line: String, batchId: String) throws {
        let path = (batchDirectory(batchId) as NSString).appendingPathComponent("manifest.jsonl")
        do {
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((line + "\n").utf8))
        } catch {
            throw FolderError(path: path, role: "manifest", reason: "cannot be appended to: \(FileErrors.reason(error))")
        }
    }

    /// Rewrites every batch's manifest from the store (at start-up), so a crash between a
    /// durable finish and its manifest line leaves neither a gap nor a duplicate.
    func rebuildManifests(_ store: JobStore) throws {
        for batch in try store.batches() {
            let lines = try store.resultsSince(batchId: batch.id, since: 0, limit: Int(Int32.max)).compactMap(\.manifestLine)
            guard !lines.isEmpty else { continue }
            let dir = batchDirectory(batch.id)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let text = lines.map { $0 + "\n" }.joined()
            try Data(text.utf8).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent("manifest.jsonl")),
                                      options: .atomic)
        }
    }
}
