import ArgumentParser
import Cluster
import Foundation
import ImageIO
import StableDiffusion

/// `sdcluster submit`: send a batch of prompts to the coordinator, optionally wait for the images.
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Send prompts to a cluster's coordinator (and with --wait, receive the images).",
        discussion: """
            PROMPTS is a text file (one prompt a line) or JSONL (one request object a line: prompt, \
            negative_prompt, seed, count, steps, guidance_scale, guidance_cutoff, late_pass, \
            scheduler, width, height, model); the options are the defaults of every line. Bad \
            lines are reported with their numbers before anything is sent.
            Examples:
              sdcluster submit prompts.txt --guidance-cutoff 0.5 --wait --out results/
              sdcluster submit --prompt "a red circle" --count 8 --wait
            """)

    @Argument(help: ArgumentHelp("A prompt file (text or JSONL).", valueName: "PROMPTS"))
    var promptsFile: String?

    @Option(name: .customLong("prompt"), help: "A prompt (repeatable), instead of or besides a file.")
    var prompts: [String] = []

    @Option(help: ArgumentHelp("The coordinator's client endpoint.", valueName: "ENDPOINT"))
    var coordinator = "tcp://127.0.0.1:7430"

    @OptionGroup var curve: CurveOptions

    @Option(help: ArgumentHelp("Model name for lines that name none (default: the coordinator's default).", valueName: "NAME"))
    var model: String?

    @OptionGroup var sampling: SamplingOptions

    @Flag(help: "Wait for every image, with a progress bar, and write them to --out.")
    var wait = false

    @Option(help: ArgumentHelp("With --wait: folder for the PNGs and manifest.jsonl (default: outputs/<batch>).", valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp("Give up submitting when the coordinator has not answered for this many seconds (a wrong address fails fast; the batch is not sent twice when it answers late).", valueName: "S"))
    var connectTimeout: Double = 20

    @Option(help: ArgumentHelp("With --wait: give up when no image has finished (or the coordinator has not answered) for this many seconds; the batch goes on, `sdcluster fetch` collects it later.", valueName: "S"))
    var giveUpAfter: Double = 1800

    func validate() throws {
        guard connectTimeout > 0, giveUpAfter > 0 else { throw ValidationError("--connect-timeout and --give-up-after must be positive") }
    }

    func run() throws {
        var requests = try sampling.requests(prompts: prompts, file: promptsFile)
        if let model { for i in requests.indices where requests[i].model == nil { requests[i].model = model } }
        // A folder that cannot take the images must say so before the batch is sent.
        if wait { try WritableFolder.check(out ?? "outputs", role: "output folder (--out)") }
        let client = ClusterClient(endpoint: coordinator, context: try ZMQContext(), giveUpAfter: connectTimeout,
                                   credentials: try curve.credentials())
        client.onRetry = { waited in printError(String(format: "coordinator not answering for %.0f s; retrying", waited)) }
        let name = promptsFile.map { ($0 as NSString).lastPathComponent } ?? "command line"
        let accepted = try client.submit(SubmitBatch(clientBatchName: name, submissionId: UUID().uuidString, requests: requests))
        print(accepted.batchId)
        fflush(stdout)
        printError("batch \(accepted.batchId) accepted: \(accepted.count) image(s)")
        guard wait else { return }
        try BatchCollection.collect(client: client, batchId: accepted.batchId, folder: out ?? "outputs/\(accepted.batchId)",
                                    total: accepted.count, giveUpAfter: giveUpAfter, resume: false)
    }
}
