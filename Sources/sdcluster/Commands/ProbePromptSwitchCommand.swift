import ArgumentParser
import Foundation
import ImageIO
import ShapesWorld
import StableDiffusion

/// `sdcluster probe prompt-switch`: prompt A for steps 0 ..< k, prompt B from step k on, for
/// every k; per attribute the share of images that keep A's value.
struct ProbePromptSwitchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompt-switch",
        abstract: "Start with prompt A, switch the conditional text to prompt B at step k, for every k: per attribute, the share of images following A against k.",
        discussion: """
            Pairs are held-out captions 2i and 2i+1, each used as A once. k = 0 is B throughout, \
            k = the step count A throughout (PNDM's 25 steps are 26 timesteps). The unconditional \
            pass keeps the empty prompt. An attribute counts only where A and B state different values.
            Example: sdcluster probe prompt-switch --pairs 4 --threads 1 --out probe-switch
            """)

    @Option(help: "Caption pairs (each gives two images per k).")
    var pairs: Int = 4

    @Option(help: "Run every STRIDE-th k (plus the last).")
    var stride: Int = 1

    @Option(help: "Guidance scale (default: the model's).")
    var guidanceScale: Float?

    @OptionGroup var probe: ProbeOptions

    func validate() throws {
        guard pairs >= 1 else { throw ValidationError("--pairs must be at least 1") }
        guard stride >= 1 else { throw ValidationError("--stride must be at least 1") }
    }

    func run() throws {
        let pipeline = try probe.loadPipeline()
        let stepCount = try Sampler.prepare(probe.request("", index: 0, guidanceScale: guidanceScale), model: pipeline.modelInfo).stepCount
        let ks = Array(Swift.stride(from: 0, to: stepCount, by: stride)) + [stepCount]
        var tallies = Dictionary(uniqueKeysWithValues: ks.map { ($0, FollowTally()) })
        let start = Date()
        for p in 0..<pairs {
            let first = probe.caption(2 * p), second = probe.caption(2 * p + 1)
            for (direction, (a, b)) in [(first, second), (second, first)].enumerated() {
                let ea = try pipeline.embed(a.text).embedding, eb = try pipeline.embed(b.text).embedding
                let request = probe.request(a.text, index: 2 * p + direction, guidanceScale: guidanceScale)
                for k in ks {
                    let image = try pipeline.generate(request, conditioning: .switching(from: ea, to: eb, atStep: k)).image
                    tallies[k]!.add(ProbeJudging.follows(ProbeJudging.judge.judge(ProbeJudging.image(image)), a: a.stated, b: b.stated))
                }
            }
            printError(String(format: "pair %d/%d done (%.0f s)", p + 1, pairs, Date().timeIntervalSince(start)))
        }
        let attributes = Judge.Attribute.allCases
        var table = ProbeTable(header: ["k (switch step)", "share of steps on A"] + attributes.map { "\($0.rawValue) A%" }
                               + attributes.map { "\($0.rawValue) B%" })
        for k in ks {
            table.rows.append(["\(k)", String(format: "%.2f", Double(k) / Double(stepCount))]
                              + attributes.map { percent(tallies[k]!.share($0, .a)) } + attributes.map { percent(tallies[k]!.share($0, .b)) })
        }
        table.rows.append(["(pairs differing)", ""] + attributes.map { "\(tallies[ks[0]]!.total($0))" } + attributes.map { _ in "" })
        print(table.text)
        let series = attributes.enumerated().map { i, a in
            LineChart.Series(name: a.rawValue, color: LineChart.palette[i],
                             points: ks.compactMap { k in tallies[k]!.share(a, .a).map { (Double(k), 100 * $0) } })
        }
        let chart = LineChart(title: "SHARE FOLLOWING PROMPT A, SWITCHED TO B AT STEP K", xLabel: "K (STEPS ON A)",
                              yLabel: "% A", series: series, xRange: 0...Double(stepCount), yRange: 0...100)
        try probe.write(table, csv: "prompt-switch.csv", charts: [("prompt-switch.png", chart)])
    }
}
