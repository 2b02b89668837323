import Foundation

/// A folder of generated images, named `<index>-<seed>.png` (`00007-42.png`), each written
/// atomically with its parameters in a `parameters` text chunk (AUTOMATIC1111's format). Used by
/// `generate` (the folder itself, or one `.png` path) and by the coordinator (a subfolder per
/// batch, next to the batch's manifest).
public struct OutputFolder: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    /// `00007-42.png`.
    public static func fileName(index: Int, seed: UInt64) -> String {
        String(format: "%05d-%llu.png", index, seed)
    }

    /// `root/<subfolder>/<fileName>` (or `root/<fileName>` without a subfolder).
    public func path(_ fileName: String, in subfolder: String? = nil) -> String {
        ((directory(subfolder)) as NSString).appendingPathComponent(fileName)
    }

    /// `root/<subfolder>` (or `root`).
    public func directory(_ subfolder: String? = nil) -> String {
        subfolder.map { (root as NSString).appendingPathComponent($0) } ?? root
    }

    /// `generate`'s path: `output` itself when it names a `.png` file and there is exactly one
    /// image, else `output/<index>-<seed>.png`.
    public static func path(for index: Int, seed: UInt64, output: String, total: Int) -> String {
        if total == 1 && output.lowercased().hasSuffix(".png") { return output }
        return OutputFolder(root: output).path(fileName(index: index, seed: seed))
    }

    /// Writes `image` to `path` atomically (a temporary file renamed into place), creating its
    /// folder, with `parameters` as the PNG's `parameters` text.
    public static func writePNG(_ image: RGBImage, parameters: String, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try PNG.write(image, to: path, text: [("parameters", parameters)])
    }

    /// Writes `<index>-<seed>`-named (or any) `fileName` under `subfolder`; returns its path.
    @discardableResult
    public func writePNG(_ image: RGBImage, parameters: String, fileName: String, in subfolder: String? = nil) throws -> String {
        let path = path(fileName, in: subfolder)
        try Self.writePNG(image, parameters: parameters, to: path)
        return path
    }

    /// A written file's bytes, or nil when it is not there.
    public func read(_ fileName: String, in subfolder: String? = nil) -> [UInt8]? {
        FileManager.default.contents(atPath: path(fileName, in: subfolder)).map { Array($0) }
    }
}
