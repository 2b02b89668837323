import ArgumentParser
import Foundation
import ImageIO
import ShapesWorld

/// `sdcluster shapes judge`: measures images and compares them with their captions.
struct ShapesJudgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge",
        abstract: "Judge images against their captions: per-attribute agreement and the share matching every stated attribute.",
        discussion: """
            Captions come from --caption (one image), from --manifest (JSONL with `file` and \
            `caption` or `prompt`), from captions.jsonl in a directory, or else from each PNG's \
            `caption` text chunk or the first line of its `parameters` chunk.
            """)

    @Argument(help: "A PNG file or a directory of PNG files.")
    var path: String

    @Option(help: "The caption to judge a single image against.")
    var caption: String?

    @Option(help: "JSONL manifest: one object a line with `file` (relative to the manifest) and `caption` or `prompt`.")
    var manifest: String?

    @Flag(help: "Print JSON (the report and every image's findings) instead of a table.")
    var json = false

    struct Item: Encodable {
        var file: String
        var caption: String?
        var judged: JudgedAttributes
        var agreement: [String: Bool]
    }

    struct Output: Encodable {
        var report: JudgeReport
        /// Share of captioned images where every stated attribute agreed.
        var allAgreedShare: Double
        var images: [Item]

        enum CodingKeys: String, CodingKey { case report, allAgreedShare = "all_agreed_share", images }
    }

    func validate() throws {
        if caption != nil && manifest != nil { throw ValidationError("give either --caption or --manifest, not both") }
    }

    func run() throws {
        let entries = try ShapesJudgeInputs.entries(path: path, caption: caption, manifest: manifest)
        guard !entries.isEmpty else { throw ValidationError("no PNG files found at \(path)") }
        let judge = Judge()
        var report = JudgeReport()
        var items: [Item] = []
        for entry in entries {
            let judged = judge.judge(try PNG.read(from: entry.path))
            let text = entry.caption
            let agreement = text.map { Judge.agreement(judged, Caption.parse($0)) } ?? [:]
            if text != nil { report.add(agreement) }
            items.append(Item(file: entry.path, caption: text, judged: judged,
                              agreement: Dictionary(uniqueKeysWithValues: agreement.map { ($0.key.rawValue, $0.value) })))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(Output(report: report, allAgreedShare: report.allAgreedShare, images: items)), as: UTF8.self))
            return
        }
        if items.count == 1 {
            printOne(items[0])
        } else if report.images > 0 {
            print(report.text)
        }
    }

    private func printOne(_ item: Item) {
        let j = item.judged
        print("file:       \(item.file)")
        if let c = item.caption { print("caption:    \(c)") }
        for (name, value) in [("background", j.background.rawValue), ("color", j.color?.rawValue), ("shape", j.shape?.rawValue),
                              ("size", j.size?.rawValue), ("position", j.position?.rawValue), ("pattern", j.pattern?.rawValue)] {
            let mark = item.agreement[name].map { $0 ? "  (agrees)" : "  (DISAGREES)" } ?? ""
            print(name.padding(toLength: 11, withPad: " ", startingAt: 0) + " " + (value ?? "-") + mark)
        }
    }
}

/// Finds the images to judge and their captions.
enum ShapesJudgeInputs {
    struct Entry { var path: String; var caption: String? }

    struct ManifestLine: Decodable { var file: String; var caption: String?; var prompt: String? }

    static func entries(path: String, caption: String?, manifest: String?) throws -> [Entry] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ValidationError("\(path) does not exist")
        }
        if let manifest { return try read(manifest: manifest, base: isDir.boolValue ? path : nil) }
        if !isDir.boolValue { return [Entry(path: path, caption: caption ?? embeddedCaption(path))] }
        let defaultManifest = path + "/captions.jsonl"
        if FileManager.default.fileExists(atPath: defaultManifest) { return try read(manifest: defaultManifest, base: path) }
        let files = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.lowercased().hasSuffix(".png") }.sorted()
        return files.map { Entry(path: path + "/" + $0, caption: embeddedCaption(path + "/" + $0)) }
    }

    /// The `caption` text chunk, or the prompt (first line) of an AUTOMATIC1111 `parameters` chunk.
    static func embeddedCaption(_ file: String) -> String? {
        guard let chunks = try? PNG.textChunks(at: file) else { return nil }
        if let c = chunks.first(where: { $0.0 == "caption" }) { return c.1 }
        if let p = chunks.first(where: { $0.0 == "parameters" }) {
            return String(p.1.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }
        return nil
    }

    static func read(manifest: String, base: String?) throws -> [Entry] {
        guard let data = FileManager.default.contents(atPath: manifest) else {
            throw ValidationError("cannot read the manifest \(manifest)")
        }
        let dir = base ?? (manifest as NSString).deletingLastPathComponent
        var out: [Entry] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let rec = try? JSONDecoder().decode(ManifestLine.self, from: Data(line.utf8)) else {
                throw ValidationError("\(manifest) line \(n + 1): not a JSON object with a `file` string")
            }
            let file = rec.file.hasPrefix("/") ? rec.file : (dir.isEmpty ? rec.file : dir + "/" + rec.file)
            out.append(Entry(path: file, caption: rec.caption ?? rec.prompt))
        }
        return out
    }
}
