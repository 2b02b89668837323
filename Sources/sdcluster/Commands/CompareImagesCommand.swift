import ArgumentParser
import Foundation
import ImageIO

/// `sdcluster compare-images`: are two PNGs (or two folders of them) the same pixels?
struct CompareImagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare-images",
        abstract: "Compare the decoded pixels of two PNG files, or of two folders of PNGs paired by file name.",
        discussion: """
            Text chunks (the `parameters` text, its Engine field) are not compared, only size and \
            pixels. Prints one line per pair (`identical`, `differs: ...`, `only in A`/`only in B`, \
            `unreadable: ...`), then with folders a count line; exits 1 unless every pair is identical.
            Example (a cluster's batch against `generate` of the same prompt file):
              sdcluster compare-images results/20261128-143021-1378b2 reference/
            """)

    @Argument(help: ArgumentHelp("A PNG file or a folder of PNGs.", valueName: "A"))
    var first: String

    @Argument(help: ArgumentHelp("Another PNG file or folder (the same kind as A).", valueName: "B"))
    var second: String

    @Flag(help: "Print only the pairs that are not identical, and the count line.")
    var quiet = false

    func run() throws {
        var isFolder: ObjCBool = false, secondIsFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: first, isDirectory: &isFolder) else { throw ValidationError("\(first) does not exist") }
        guard FileManager.default.fileExists(atPath: second, isDirectory: &secondIsFolder) else { throw ValidationError("\(second) does not exist") }
        guard isFolder.boolValue == secondIsFolder.boolValue else { throw ValidationError("A and B must be two files or two folders") }
        let pairs = isFolder.boolValue ? try PixelComparison.folders(first, second)
                                       : [PixelComparison.Pair(name: first, verdict: PixelComparison.files(first, second))]
        var identical = 0
        for pair in pairs {
            let text: String
            switch pair.verdict {
            case .identical: identical += 1; text = "identical"
            case .differs(let difference): text = "differs: \(difference)"
            case .missing(let inFirst): text = inFirst ? "only in A" : "only in B"
            case .unreadable(let reason): text = "unreadable: \(reason)"
            }
            if !quiet || pair.verdict != PixelComparison.Verdict.identical { print("\(pair.name): \(text)") }
        }
        if isFolder.boolValue { print("\(identical) of \(pairs.count) identical") }
        if identical != pairs.count || pairs.isEmpty { throw ExitCode(1) }
    }
}
