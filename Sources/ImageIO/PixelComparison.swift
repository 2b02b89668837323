import Foundation

/// How the pixels of one image differ from another's; text chunks and compression play no
/// part, so two PNGs of the same pixels written with different `parameters` text compare equal.
public enum PixelDifference: Equatable, Sendable, CustomStringConvertible {
    /// The sizes differ (no pixel is compared).
    case size(width: Int, height: Int, otherWidth: Int, otherHeight: Int)
    /// Same size; `count` pixels differ, the first (row by row) at (`x`, `y`), and no channel
    /// by more than `largestDelta`.
    case pixels(count: Int, x: Int, y: Int, largestDelta: Int)

    public var description: String {
        switch self {
        case let .size(w, h, ow, oh):
            return "size \(w)x\(h) against \(ow)x\(oh)"
        case let .pixels(count, x, y, delta):
            return "\(count) pixel(s) differ, the first at (\(x), \(y)), by up to \(delta) in a channel"
        }
    }
}

extension RGBImage {
    /// Where `other`'s pixels differ from these; nil when size and every byte are equal.
    public func pixelDifference(from other: RGBImage) -> PixelDifference? {
        guard width == other.width, height == other.height else {
            return .size(width: width, height: height, otherWidth: other.width, otherHeight: other.height)
        }
        if pixels == other.pixels { return nil }
        var count = 0, first = -1, largest = 0
        for p in 0..<(width * height) {
            var differs = false
            for c in 0..<3 {
                let delta = abs(Int(pixels[p * 3 + c]) - Int(other.pixels[p * 3 + c]))
                if delta > 0 { differs = true; largest = max(largest, delta) }
            }
            if differs {
                count += 1
                if first < 0 { first = p }
            }
        }
        return .pixels(count: count, x: first % width, y: first / width, largestDelta: largest)
    }
}

/// Two PNG files, or two folders of PNGs paired by file name, compared by their decoded pixels
/// (`sdcluster compare-images`: a cluster's output against `generate`'s).
public enum PixelComparison {
    /// One pair's verdict.
    public enum Verdict: Equatable, Sendable {
        case identical
        case differs(PixelDifference)
        /// The file is only on one side (`inFirst`: the first folder has it, the second not).
        case missing(inFirst: Bool)
        /// A file could not be read or decoded.
        case unreadable(String)
    }

    /// `name` is the file name in both folders (or the first file's path for two files).
    public struct Pair: Equatable, Sendable {
        public let name: String
        public let verdict: Verdict

        public init(name: String, verdict: Verdict) {
            self.name = name
            self.verdict = verdict
        }
    }

    /// Compares two files' pixels.
    public static func files(_ first: String, _ second: String) -> Verdict {
        let a: RGBImage, b: RGBImage
        do { a = try PNG.read(from: first) } catch { return .unreadable("\(first): \(error)") }
        do { b = try PNG.read(from: second) } catch { return .unreadable("\(second): \(error)") }
        return a.pixelDifference(from: b).map(Verdict.differs) ?? .identical
    }

    /// Every `*.png` of either folder, by name in sorted order; a name only one folder has is
    /// `missing`. Other files (a manifest, say) are not looked at.
    public static func folders(_ first: String, _ second: String) throws -> [Pair] {
        let inFirst = try pngNames(first), inSecond = try pngNames(second)
        return inFirst.union(inSecond).sorted().map { name in
            guard inFirst.contains(name) else { return Pair(name: name, verdict: .missing(inFirst: false)) }
            guard inSecond.contains(name) else { return Pair(name: name, verdict: .missing(inFirst: true)) }
            let verdict = files((first as NSString).appendingPathComponent(name), (second as NSString).appendingPathComponent(name))
            return Pair(name: name, verdict: verdict)
        }
    }

    private static func pngNames(_ folder: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.lowercased().hasSuffix(".png") })
    }
}
