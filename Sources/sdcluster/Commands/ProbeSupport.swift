import ArgumentParser
import Foundation
import ImageIO
import ShapesWorld
import StableDiffusion

/// What every `sdcluster probe` shares: held-out captions, the model and engine, the seeds and
/// where the table, CSV and plot go.
struct ProbeOptions: ParsableArguments {
    @Option(help: "Seed of the held-out captions (`shapes prompts --seed`; the training set used 1).")
    var captionSeed: UInt64 = 7

    @Option(help: "Seed of the first image; image i uses seed + i.")
    var seed: UInt64 = 1000

    @Option(help: "Denoising steps.")
    var steps: Int = 25

    @Option(help: "ddim | pndm | euler | euler-a | dpmpp-2m | dpmpp-2m-karras.")
    var scheduler: SchedulerKind = .pndm

    @Option(help: ArgumentHelp("Folder for the CSV and the plot (PNG); nothing is written without it.", valueName: "DIR"))
    var out: String?

    @OptionGroup var model: ModelOptions
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
    }

    /// Held-out caption `index`, stating every attribute (as `shapes prompts` prints it).
    func caption(_ index: Int) -> (text: String, stated: StatedAttributes) {
        let stated = StatedAttributes(all: WorldSampler.example(seed: captionSeed, index: index).attributes)
        return (Caption.text(stated), stated)
    }

    /// A request for `prompt` with image seed `seed + index` and these options.
    func request(_ prompt: String, index: Int, guidanceScale: Float? = nil) -> GenerationRequest {
        GenerationRequest(prompt: prompt, seed: seed + UInt64(index), steps: steps, guidanceScale: guidanceScale,
                          scheduler: scheduler)
    }

    func loadPipeline() throws -> StableDiffusionPipeline {
        try engine.apply()
        return try model.loadPipeline(precision: engine.precision)
    }

    /// Creates `--out` and gives the path of `name` in it (nil without `--out`).
    func outputPath(_ name: String) throws -> String? {
        guard let out else { return nil }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        return (out as NSString).appendingPathComponent(name)
    }

    /// Writes `table` as CSV and `chart` as PNG into `--out` (when given) and says where.
    func write(_ table: ProbeTable, csv: String, charts: [(name: String, chart: LineChart)]) throws {
        guard let csvPath = try outputPath(csv) else { return }
        try table.csv.write(toFile: csvPath, atomically: true, encoding: .utf8)
        printError("wrote \(csvPath)")
        for (name, chart) in charts {
            guard let path = try outputPath(name) else { continue }
            try PNG.write(chart.render(), to: path)
            printError("wrote \(path)")
        }
    }
}

/// A table printed aligned and written as CSV.
struct ProbeTable {
    var header: [String]
    var rows: [[String]] = []

    var text: String {
        let widths = header.indices.map { c in ([header[c]] + rows.map { c < $0.count ? $0[c] : "" }).map(\.count).max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { c, cell in cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    var csv: String {
        func quoted(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        return ([header] + rows).map { $0.map(quoted).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }
}

/// Which of two prompts an image's attribute follows.
enum Follows: String { case a, b, neither }

enum ProbeJudging {
    static let judge = Judge()

    static func image(_ generated: GeneratedImage) -> RGBImage {
        RGBImage(width: generated.width, height: generated.height, pixels: generated.rgb)
    }

    /// The stated value of `attribute` as text (nil when not stated).
    static func value(_ s: StatedAttributes, _ attribute: Judge.Attribute) -> String? {
        switch attribute {
        case .background: return s.background?.rawValue
        case .color: return s.color?.rawValue
        case .shape: return s.shape?.rawValue
        case .size: return s.size?.rawValue
        case .position: return s.position?.rawValue
        case .pattern: return s.pattern?.rawValue
        }
    }

    static func value(_ j: JudgedAttributes, _ attribute: Judge.Attribute) -> String? {
        switch attribute {
        case .background: return j.background.rawValue
        case .color: return j.color?.rawValue
        case .shape: return j.shape?.rawValue
        case .size: return j.size?.rawValue
        case .position: return j.position?.rawValue
        case .pattern: return j.pattern?.rawValue
        }
    }

    /// For each attribute on which A and B differ: whether the judged image shows A's value, B's or neither.
    static func follows(_ judged: JudgedAttributes, a: StatedAttributes, b: StatedAttributes) -> [Judge.Attribute: Follows] {
        var out: [Judge.Attribute: Follows] = [:]
        for attribute in Judge.Attribute.allCases {
            guard let va = value(a, attribute), let vb = value(b, attribute), va != vb else { continue }
            let seen = value(judged, attribute)
            out[attribute] = seen == va ? .a : seen == vb ? .b : .neither
        }
        return out
    }
}

/// Counts of A / B / neither per attribute.
struct FollowTally {
    var counts: [Judge.Attribute: [Follows: Int]] = [:]

    mutating func add(_ follows: [Judge.Attribute: Follows]) {
        for (attribute, f) in follows { counts[attribute, default: [:]][f, default: 0] += 1 }
    }

    func total(_ attribute: Judge.Attribute) -> Int { counts[attribute]?.values.reduce(0, +) ?? 0 }

    func share(_ attribute: Judge.Attribute, _ f: Follows) -> Double? {
        let n = total(attribute)
        return n == 0 ? nil : Double(counts[attribute]?[f] ?? 0) / Double(n)
    }
}

func percent(_ share: Double?) -> String { share.map { String(format: "%.1f", $0 * 100) } ?? "-" }
