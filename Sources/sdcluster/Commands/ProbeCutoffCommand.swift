import ArgumentParser
import Foundation
import ImageIO
import ShapesWorld
import StableDiffusion

/// `sdcluster probe cutoff`: which guidance cut-off (and late pass, interval, adaptive threshold)
/// keeps the images, at what saving, over held-out captions.
struct ProbeCutoffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cutoff",
        abstract: "Sweep guidance cut-off x late pass x guidance scale (plus guidance interval and adaptive guidance): UNet evaluations, the judge's adherence, PSNR to plain CFG.",
        discussion: """
            Each row runs the same N held-out captions and seeds. Loss: plain CFG's mean adherence \
            (over the six attributes, at the row's scale) minus the row's, in percentage points. \
            PSNR is per image against plain CFG at the same scale (identical images count as 100 dB), then averaged.
            The defaults (6 captions, scale 2.5: 66 images) take a few minutes on 2 cores;             --count 12 --scales 2.5,4 (264 images) is a fuller sweep.
            Example: sdcluster probe cutoff --count 12 --scales 2.5,4 --out probe-cutoff
            """)

    @Option(help: "Held-out captions (images per row).")
    var count: Int = 6

    @Option(help: ArgumentHelp("Guidance scales, comma-separated.", valueName: "W,..."))
    var scales: String = "2.5"

    @Option(help: ArgumentHelp("Cut-offs below 1, comma-separated (1, plain CFG, is every scale's reference row).", valueName: "C,..."))
    var cutoffs: String = "0,0.25,0.5,0.75"

    @Option(help: ArgumentHelp("Guidance intervals LOW,HIGH, separated by ';' (empty: none).", valueName: "LOW,HIGH;..."))
    var intervals: String = "0.28,5.42"

    @Option(help: ArgumentHelp("Adaptive-guidance thresholds, comma-separated (empty: none).", valueName: "T,..."))
    var adaptive: String = "0.99,0.999,0.9999"

    @Option(help: ArgumentHelp("Largest loss of mean adherence (percentage points) the cheapest setting may have.", valueName: "POINTS"))
    var maxLoss: Double = 2

    @Option(help: ArgumentHelp("Also pick the cheapest setting whose mean PSNR to plain CFG is at least this (the measure for a model without a judge).", valueName: "DB"))
    var minPsnr: Double?

    @Flag(help: "Do not judge (a model outside the shapes world): only evaluations and PSNR.")
    var noJudge = false

    @OptionGroup var probe: ProbeOptions

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard !(try settings()).isEmpty else { throw ValidationError("--scales gives no scale") }
        if noJudge && minPsnr == nil { throw ValidationError("--no-judge needs --min-psnr to choose a setting") }
    }

    func settings() throws -> [GuidanceSetting] {
        func floats(_ s: String, _ name: String) throws -> [Float] {
            try s.split(separator: ",").map {
                guard let v = Float($0.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("\(name): '\($0)' is not a number") }
                return v
            }
        }
        let intervalList = try intervals.split(separator: ";").map { part -> GuidanceInterval in
            let v = try floats(String(part), "--intervals")
            guard v.count == 2 else { throw ValidationError("--intervals: '\(part)' is not LOW,HIGH") }
            return GuidanceInterval(sigmaLow: v[0], sigmaHigh: v[1])
        }
        return GuidanceSetting.sweep(scales: try floats(scales, "--scales"), cutoffs: try floats(cutoffs, "--cutoffs"),
                                     intervals: intervalList, adaptiveThresholds: try floats(adaptive, "--adaptive"))
    }

    /// One row's results.
    struct Row {
        var setting: GuidanceSetting
        var evaluations = 0
        var plainEvaluations = 0
        var report = JudgeReport()
        var psnrSum = 0.0
        var identical = 0

        var meanAdherence: Double {
            let shares = Judge.Attribute.allCases.compactMap { report.attributes[$0.rawValue]?.share }
            return shares.isEmpty ? 0 : shares.reduce(0, +) / Double(shares.count)
        }
    }

    func run() throws {
        let pipeline = try probe.loadPipeline()
        let settings = try settings()
        var rows = settings.map { Row(setting: $0) }
        let start = Date()
        for i in 0..<count {
            let caption = probe.caption(i)
            var reference: [Float: RGBImage] = [:]
            for r in rows.indices {
                let setting = rows[r].setting
                let request = setting.apply(to: probe.request(caption.text, index: i))
                let cond = try pipeline.embed(request.prompt).embedding
                let (generated, run) = try pipeline.generate(request, conditioning: .constant(cond))
                // The count is the state machine's; the evaluator's own tally must agree with it.
                guard run == generated.unetEvaluations else {
                    throw ValidationError("evaluation count mismatch: \(run) run, \(generated.unetEvaluations) recorded")
                }
                let image = ProbeJudging.image(generated)
                if setting.rule == .plain { reference[setting.scale] = image }
                rows[r].evaluations += run
                rows[r].plainEvaluations += generated.plainGuidanceEvaluations
                if !noJudge { rows[r].report.add(Judge.agreement(ProbeJudging.judge.judge(image), caption.stated)) }
                let psnr = reference[setting.scale].flatMap { image.psnr(to: $0, identicalValue: 100) } ?? 100
                rows[r].psnrSum += psnr
                if psnr == 100 { rows[r].identical += 1 }
            }
            printError(String(format: "caption %d/%d done (%.0f s)", i + 1, count, Date().timeIntervalSince(start)))
        }
        let table = makeTable(rows)
        print(table.text)
        printChoice(rows)
        try probe.write(table, csv: "cutoff.csv", charts: charts(rows))
    }

    private func plainAdherence(_ rows: [Row], scale: Float) -> Double {
        rows.first { $0.setting.scale == scale && $0.setting.rule == .plain }?.meanAdherence ?? 0
    }

    private func makeTable(_ rows: [Row]) -> ProbeTable {
        var table = ProbeTable(header: ["scale", "rule", "evals/image", "saved %"]
                               + (noJudge ? [] : Judge.Attribute.allCases.map(\.rawValue) + ["all stated", "mean", "loss"])
                               + ["PSNR dB", "identical"])
        for row in rows {
            let n = Double(count)
            var cells = [GuidanceSetting.number(row.setting.scale), row.setting.ruleName,
                         String(format: "%.2f", Double(row.evaluations) / n),
                         String(format: "%.1f", 100 * (1 - Double(row.evaluations) / Double(max(row.plainEvaluations, 1))))]
            if !noJudge {
                cells += Judge.Attribute.allCases.map { percent(row.report.attributes[$0.rawValue]?.share) }
                cells += [percent(row.report.allAgreedShare), percent(row.meanAdherence),
                          String(format: "%.1f", 100 * (plainAdherence(rows, scale: row.setting.scale) - row.meanAdherence))]
            }
            cells += [String(format: "%.1f", row.psnrSum / n), "\(row.identical)/\(count)"]
            table.rows.append(cells)
        }
        return table
    }

    private func printChoice(_ rows: [Row]) {
        func cheapest(_ ok: (Row) -> Bool) -> Row? {
            rows.filter(ok).min { ($0.evaluations, -$0.psnrSum) < ($1.evaluations, -$1.psnrSum) }
        }
        if !noJudge, let best = cheapest({ 100 * (plainAdherence(rows, scale: $0.setting.scale) - $0.meanAdherence) <= maxLoss }) {
            print(String(format: "cheapest within %.1f points of plain CFG's adherence: scale %@, %@ (%.2f UNet evaluations per image, %.1f dB)",
                         maxLoss, GuidanceSetting.number(best.setting.scale), best.setting.ruleName,
                         Double(best.evaluations) / Double(count), best.psnrSum / Double(count)))
        }
        if let minPsnr, let best = cheapest({ $0.psnrSum / Double(count) >= minPsnr }) {
            print(String(format: "cheapest with mean PSNR >= %.1f dB: scale %@, %@ (%.2f UNet evaluations per image)",
                         minPsnr, GuidanceSetting.number(best.setting.scale), best.setting.ruleName,
                         Double(best.evaluations) / Double(count)))
        }
    }

    /// Per scale and late pass, adherence and PSNR against the cut-off (plain CFG at 1).
    private func charts(_ rows: [Row]) -> [(name: String, chart: LineChart)] {
        var adherence: [LineChart.Series] = [], psnr: [LineChart.Series] = []
        let scalesSeen = rows.map(\.setting.scale).reduce(into: [Float]()) { if !$0.contains($1) { $0.append($1) } }
        for scale in scalesSeen {
            for late in LatePass.allCases {
                var a: [(x: Double, y: Double)] = [], p: [(x: Double, y: Double)] = []
                for row in rows where row.setting.scale == scale {
                    let c: Float
                    switch row.setting.rule {
                    case .plain: c = 1
                    case let .cutoff(value, l) where l == late: c = value
                    default: continue
                    }
                    a.append((Double(c), 100 * row.meanAdherence))
                    if c < 1 { p.append((Double(c), row.psnrSum / Double(count))) }   // plain is the reference itself
                }
                let name = "W \(GuidanceSetting.number(scale)) \(late.rawValue)"
                let color = LineChart.palette[(adherence.count) % LineChart.palette.count]
                adherence.append(.init(name: name, color: color, points: a.sorted { $0.x < $1.x }))
                psnr.append(.init(name: name, color: color, points: p.sorted { $0.x < $1.x }))
            }
        }
        var out: [(name: String, chart: LineChart)] = [
            ("cutoff-psnr.png", LineChart(title: "PSNR TO PLAIN CFG VS CUT-OFF", xLabel: "GUIDANCE CUT-OFF", yLabel: "DB", series: psnr, xRange: 0...1)),
        ]
        if !noJudge {
            out.insert(("cutoff-adherence.png", LineChart(title: "MEAN ADHERENCE VS CUT-OFF", xLabel: "GUIDANCE CUT-OFF",
                                                          yLabel: "%", series: adherence, xRange: 0...1)), at: 0)
        }
        return out
    }
}
