import Foundation
import ImageIO
import StableDiffusion

/// The coordinator's output folder: `<root>/<batch>/<index>-<seed>.png` (with the same
/// `parameters` text `generate` writes) and `<root>/<batch>/manifest.jsonl`.
struct ImageWriter {
    let root: String

    func batchDirectory(_ batchId: String) -> String {
        (root as NSString).appendingPathComponent(batchId)
    }

    /// `00007-42.png`: the same naming as `generate`'s output folder.
    static func fileName(index: Int, seed: UInt64) -> String {
        String(format: "%05d-%llu.png", index, seed)
    }

    /// Writes the PNG atomically (a temporary file renamed into place).
    func writePNG(rgb: [UInt8], width: Int, height: Int, request: GenerationRequest, unetEvaluations: Int,
                  engine: String?, batchId: String, fileName: String) throws {
        let dir = batchDirectory(batchId)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let parameters = GenerationParameters(request: request, unetEvaluations: unetEvaluations, engine: engine)
        let bytes = try PNG.encode(RGBImage(width: width, height: height, pixels: rgb),
                                   text: [("parameters", parameters.text)])
        let path = (dir as NSString).appendingPathComponent(fileName)
        let temporary = path + ".partial"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary])
        }
        if rename(temporary, path) != 0 { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }

    func readPNG(batchId: String, fileName: String) -> [UInt8]? {
        FileManager.default.contents(atPath: (batchDirectory(batchId) as NSString).appendingPathComponent(fileName)).map { Array($0) }
    }

    /// The manifest line: the request's fields (JSONL names), index, file, batch, UNet
    /// evaluations used and what plain guidance would have used, the workers that served it and
    /// their engine fingerprint(s).
    static func manifestLine(key: ImageKey, request: GenerationRequest, fileName: String, unetEvaluations: Int,
                             plainGuidanceEvaluations: Int, workers: [String], engine: String?) throws -> String {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? [String: Any] ?? [:]
        object["batch"] = key.batchId
        object["index"] = key.index
        object["file"] = fileName
        object["unet_evaluations"] = unetEvaluations
        object["plain_guidance_evaluations"] = plainGuidanceEvaluations
        object["workers"] = workers
        if let engine { object["engine"] = engine }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    func appendManifest(_ line: String, batchId: String) throws {
        let path = (batchDirectory(batchId) as NSString).appendingPathComponent("manifest.jsonl")
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((line + "\n").utf8))
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
