import Foundation
import ImageIO

/// Writes a shapes-world data set: numbered PNG files plus `captions.jsonl`, one line per
/// image with the file name, the caption, the full attribute record and what the caption states.
public enum Dataset {
    /// One line of `captions.jsonl`.
    public struct Record: Codable, Equatable, Sendable {
        public var file: String
        public var caption: String
        public var attributes: ShapeAttributes
        public var stated: StatedAttributes
    }

    /// What can go wrong while writing a data set.
    public enum Failure: Error, CustomStringConvertible {
        case cannotCreateDirectory(String, String)
        case cannotWrite(String, String)

        public var description: String {
            switch self {
            case .cannotCreateDirectory(let path, let why):
                return "cannot create the output directory \(path): \(why)"
            case .cannotWrite(let path, let why):
                return "cannot write \(path): \(why) (check free space and permissions)"
            }
        }
    }

    /// Writes `count` images of `size` x `size` pixels drawn from `seed` into `directory`
    /// (created if missing). `progress` is called with the number of images written so far.
    /// The same seed gives the same files on every machine.
    @discardableResult
    public static func write(count: Int, size: Int, seed: UInt64, to directory: String,
                             rasterizer: Rasterizer = Rasterizer(),
                             progress: (Int) -> Void = { _ in }) throws -> [Record] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw Failure.cannotCreateDirectory(directory, error.localizedDescription)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let digits = max(6, String(max(count - 1, 0)).count)
        var records: [Record] = []
        var lines = Data()
        for i in 0..<count {
            let example = WorldSampler.example(seed: seed, index: i)
            let name = String(repeating: "0", count: max(0, digits - String(i).count)) + "\(i).png"
            let image = rasterizer.draw(example.attributes, side: size)
            try PNG.write(image, to: directory + "/" + name, text: [("caption", example.caption)])
            let record = Record(file: name, caption: example.caption, attributes: example.attributes,
                                stated: example.stated)
            lines.append(try encoder.encode(record))
            lines.append(0x0A)
            records.append(record)
            progress(i + 1)
        }
        let manifest = directory + "/captions.jsonl"
        do {
            try lines.write(to: URL(fileURLWithPath: manifest), options: .atomic)
        } catch {
            throw Failure.cannotWrite(manifest, error.localizedDescription)
        }
        return records
    }
}
