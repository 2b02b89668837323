import ArgumentParser
import Compute
import Foundation
import ImageIO
import ShapesWorld
import StableDiffusion

/// `sdcluster probe eos-swap`: A's words with B's [EOS] rows (and the words-only and
/// [SOS]-only variants), judged: which prompt does each attribute follow?
struct ProbeEosSwapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eos-swap",
        abstract: "Splice prompt B's [EOS]-position embeddings behind prompt A's words (also words-only and [SOS]-only), generate, and judge which prompt each attribute follows.",
        discussion: """
            Pairs are held-out captions 2i and 2i+1, each used as A once and as B once. An attribute \
            counts only where A and B state different values. Rows 'A' and 'B' are the unspliced \
            prompts (how often the judge finds the prompt's own value: the ceiling).
            Example: sdcluster probe eos-swap --pairs 12 --threads 1 --out probe-eos
            """)

    @Option(help: "Caption pairs (each gives two images per variant: A with B's part and B with A's).")
    var pairs: Int = 12

    @Option(help: "Guidance scale (default: the model's).")
    var guidanceScale: Float?

    @OptionGroup var probe: ProbeOptions

    func validate() throws {
        guard pairs >= 1 else { throw ValidationError("--pairs must be at least 1") }
    }

    /// The rows: the plain prompts, then each splice.
    enum Row: CaseIterable {
        case plainA, plainB, eos, words, sos

        var name: String {
            switch self {
            case .plainA: return "A"
            case .plainB: return "B"
            case .eos: return "A words + B [EOS]"
            case .words: return "B words + A [EOS]"
            case .sos: return "B [SOS] + A rest"
            }
        }

        var variant: EmbeddingSplice.Variant? {
            switch self {
            case .plainA, .plainB: return nil
            case .eos: return .eos
            case .words: return .words
            case .sos: return .sos
            }
        }
    }

    func run() throws {
        let pipeline = try probe.loadPipeline()
        var tallies = Dictionary(uniqueKeysWithValues: Row.allCases.map { ($0, FollowTally()) })
        var perImage = ProbeTable(header: ["pair", "a", "b", "row"] + Judge.Attribute.allCases.map(\.rawValue))
        let start = Date()
        for p in 0..<pairs {
            let first = probe.caption(2 * p), second = probe.caption(2 * p + 1)
            for (direction, (a, b)) in [(first, second), (second, first)].enumerated() {
                let ea = try pipeline.encodePrompt(a.text), eb = try pipeline.encodePrompt(b.text)
                let request = probe.request(a.text, index: 2 * p + direction, guidanceScale: guidanceScale)
                for row in Row.allCases {
                    let embedding: Tensor
                    switch row {
                    case .plainA: embedding = ea.embedding
                    case .plainB: embedding = eb.embedding
                    default: embedding = try EmbeddingSplice.splice(ea, eb, variant: row.variant!)
                    }
                    let image = try pipeline.generate(request, conditioning: .constant(embedding)).image
                    let follows = ProbeJudging.follows(ProbeJudging.judge.judge(ProbeJudging.image(image)), a: a.stated, b: b.stated)
                    tallies[row]!.add(follows)
                    perImage.rows.append(["\(p)", a.text, b.text, row.name] + Judge.Attribute.allCases.map { follows[$0]?.rawValue ?? "same" })
                }
            }
            printError(String(format: "pair %d/%d done (%.0f s)", p + 1, pairs, Date().timeIntervalSince(start)))
        }
        var table = ProbeTable(header: ["embedding", "follows"] + Judge.Attribute.allCases.map(\.rawValue))
        for row in Row.allCases {
            for f in [Follows.a, .b, .neither] {
                table.rows.append([row.name, f.rawValue] + Judge.Attribute.allCases.map { percent(tallies[row]!.share($0, f)) })
            }
        }
        table.rows.append(["(pairs differing)", ""] + Judge.Attribute.allCases.map { "\(tallies[.plainA]!.total($0))" })
        print(table.text)
        try probe.write(table, csv: "eos-swap.csv", charts: [("eos-swap.png", chart(tallies))])
        if let path = try probe.outputPath("eos-swap-images.csv") {
            try perImage.csv.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// Share following B per attribute, one line per row.
    private func chart(_ tallies: [Row: FollowTally]) -> LineChart {
        let attributes = Judge.Attribute.allCases
        let series = Row.allCases.enumerated().map { i, row in
            LineChart.Series(name: row.name, color: LineChart.palette[i],
                             points: attributes.enumerated().compactMap { x, a in tallies[row]!.share(a, .b).map { (Double(x), 100 * $0) } })
        }
        return LineChart(title: "SHARE OF ATTRIBUTES FOLLOWING PROMPT B", xLabel: "ATTRIBUTE", yLabel: "%", series: series,
                         xRange: -0.5...Double(attributes.count) - 0.5, yRange: 0...100,
                         xTicks: attributes.enumerated().map { (Double($0.offset), $0.element.rawValue) })
    }
}
