import Compute
import Foundation
import StableDiffusion
import XCTest

/// Locations of the committed reference fixtures (made by scripts/fixtures/*.py with diffusers).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    static func path(_ relative: String) -> String { "\(root)/\(relative)" }

    /// All tensors of an `io/NAME.safetensors` file.
    static func io(_ name: String) throws -> [String: Tensor] {
        let file = try SafeTensorsFile(path: path("io/\(name).safetensors"))
        var out: [String: Tensor] = [:]
        for n in file.names { out[n] = try file.tensor(n) }
        return out
    }

    /// Largest absolute difference divided by the reference's largest absolute value.
    static func relativeError(_ got: Tensor, _ expected: Tensor) -> Float {
        precondition(got.shape == expected.shape, "shape \(got.shape) vs expected \(expected.shape)")
        var m: Float = 0
        for i in 0..<got.count { m = max(m, abs(got.pointer[i] - expected.pointer[i])) }
        return m / max(expected.maxAbs, 1e-12)
    }
}

extension Fixtures {
    /// The CompVis single-file checkpoint of a fixture model (`tiny-sd` or `tiny-sdxl`), put
    /// together once per test run in a temporary folder as `NAME.safetensors`: every tensor of the
    /// committed `NAME.no-token-tables.safetensors` (the single file diffusers' `from_single_file`
    /// was checked against, less its text encoders' token-embedding tables, 49408 rows each and
    /// most of its bytes) plus those tables, copied byte for byte from the model folder's text
    /// encoders under their CompVis names written out here. The tables are the same fp16 bytes in
    /// both (checked when the files were split), so the checkpoint is the original tensor for
    /// tensor while the repository keeps every fixture under 5 MB.
    static func singleFile(_ name: String) throws -> String {
        singleFileLock.lock()
        defer { singleFileLock.unlock() }
        if let made = singleFiles[name] { return made }
        guard let tables = tokenTables[name] else { preconditionFailure("no single-file fixture \(name)") }
        let partial = try SafeTensorsFile(path: path("\(name).no-token-tables.safetensors"))
        var writer = SafeTensorsWriter()
        func copy(_ file: SafeTensorsFile, _ key: String, as name: String) throws {
            let entry = try XCTUnwrap(file.entry(key), "\(file.path) has no \(key)")
            let bytes = file.rawBytes(offset: file.headerBytes.count + entry.begin, count: entry.end - entry.begin)
            writer.addRaw(name, dtypeName: entry.dtypeName, shape: entry.shape, bytes: bytes)
        }
        for key in partial.names { try copy(partial, key, as: key) }
        for (folder, key) in tables {
            try copy(SafeTensorsFile(path: path("\(name)/\(folder)/model.safetensors")), "text_model.embeddings.token_embedding.weight", as: key)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sdcluster-fixtures-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let made = directory.appendingPathComponent("\(name).safetensors").path
        try writer.write(to: made)
        singleFiles[name] = made
        return made
    }

    /// Each fixture checkpoint's token tables: the folder's text encoder and the CompVis key.
    private static let tokenTables: [String: [(String, String)]] = [
        "tiny-sd": [("text_encoder", "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight")],
        "tiny-sdxl": [("text_encoder", "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight"),
                      ("text_encoder_2", "conditioner.embedders.1.model.token_embedding.weight")],
    ]
    private static var singleFiles: [String: String] = [:]
    private static let singleFileLock = NSLock()
}
