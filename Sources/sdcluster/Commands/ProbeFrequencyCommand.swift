import ArgumentParser
import Compute
import Foundation
import ImageIO
import StableDiffusion

/// `sdcluster probe frequency`: per step, the low- and high-frequency energy of the predicted x0
/// and of its change, and how far each band still is from the final x0: coarse first, fine later?
struct ProbeFrequencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frequency",
        abstract: "Per step, the low- and high-frequency energy of the predicted x0 (latent), of its change per step, and each band's distance to the final x0.",
        discussion: """
            Bands split the latent's 2-D spectrum at --cutoff cycles per latent pixel (0.125: up to \
            2 cycles across a 16 x 16 latent). 'settled' = 1 - |band(x0_t - x0_final)|^2 / |band(x0_final)|^2 \
            (1: the band is final); change = energy of x0_t - x0_(t-1). Means over the captions.
            Example: sdcluster probe frequency --count 8 --threads 1 --out probe-frequency
            """)

    @Option(help: "Held-out captions.")
    var count: Int = 8

    @Option(help: "Frequency (cycles per latent pixel) splitting low from high.")
    var cutoff: Double = 0.125

    @Option(help: "Guidance scale (default: the model's).")
    var guidanceScale: Float?

    @OptionGroup var probe: ProbeOptions

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard cutoff > 0 else { throw ValidationError("--cutoff must be positive") }
    }

    struct StepSums {
        var sigma = 0.0, low = 0.0, high = 0.0, lowChange = 0.0, highChange = 0.0, lowSettled = 0.0, highSettled = 0.0
    }

    func run() throws {
        let pipeline = try probe.loadPipeline()
        var sums: [StepSums] = []
        let start = Date()
        for i in 0..<count {
            let caption = probe.caption(i)
            let request = probe.request(caption.text, index: i, guidanceScale: guidanceScale)
            var x0s: [Tensor] = [], sigmas: [Float] = []
            _ = try pipeline.generate(request, conditioning: .constant(try pipeline.embed(caption.text).embedding)) { step in
                x0s.append(step.predictedOriginal)
                sigmas.append(step.sigma)
            }
            if sums.isEmpty { sums = Array(repeating: StepSums(), count: x0s.count) }
            let final = FrequencyEnergy.measure(x0s.last!, cutoff: cutoff)
            for (s, x0) in x0s.enumerated() {
                let e = FrequencyEnergy.measure(x0, cutoff: cutoff)
                let change = s == 0 ? FrequencyEnergy(low: 0, high: 0)
                    : FrequencyEnergy.measure(FrequencyEnergy.difference(x0, x0s[s - 1]), cutoff: cutoff)
                let distance = FrequencyEnergy.measure(FrequencyEnergy.difference(x0, x0s.last!), cutoff: cutoff)
                sums[s].sigma += Double(sigmas[s])
                sums[s].low += e.low; sums[s].high += e.high
                sums[s].lowChange += change.low; sums[s].highChange += change.high
                sums[s].lowSettled += 1 - distance.low / final.low
                sums[s].highSettled += 1 - distance.high / final.high
            }
            printError(String(format: "caption %d/%d done (%.0f s)", i + 1, count, Date().timeIntervalSince(start)))
        }
        let n = Double(count)
        var table = ProbeTable(header: ["step", "sigma", "low energy", "high energy", "low change", "high change",
                                        "low settled", "high settled"])
        for (s, m) in sums.enumerated() {
            table.rows.append(["\(s)", String(format: "%.3f", m.sigma / n)] + [m.low, m.high, m.lowChange, m.highChange].map { String(format: "%.5f", $0 / n) }
                              + [m.lowSettled, m.highSettled].map { String(format: "%.3f", $0 / n) })
        }
        print(table.text)
        let settled = LineChart(title: "HOW SETTLED EACH BAND OF X0 IS", xLabel: "STEP", yLabel: "1 - REL. DISTANCE TO FINAL", series: [
            .init(name: "low", color: LineChart.palette[0], points: sums.enumerated().map { (Double($0.offset), $0.element.lowSettled / n) }),
            .init(name: "high", color: LineChart.palette[1], points: sums.enumerated().map { (Double($0.offset), $0.element.highSettled / n) }),
        ], yRange: -1...1)
        // Change per step as a share of each band's final energy, so the two bands compare.
        let finalLow = sums.last!.low, finalHigh = sums.last!.high
        let change = LineChart(title: "CHANGE OF X0 PER STEP / FINAL ENERGY", xLabel: "STEP", yLabel: "SHARE", series: [
            .init(name: "low", color: LineChart.palette[0], points: sums.enumerated().dropFirst().map { (Double($0.offset), $0.element.lowChange / finalLow) }),
            .init(name: "high", color: LineChart.palette[1], points: sums.enumerated().dropFirst().map { (Double($0.offset), $0.element.highChange / finalHigh) }),
        ])
        try probe.write(table, csv: "frequency.csv", charts: [("frequency-settled.png", settled), ("frequency-change.png", change)])
    }
}
