import Foundation

/// Where the shipped default model ("shapes") lives: `$SDCLUSTER_MODEL`, else `models/shapes`
/// beside the repository the binary was built in (`.build/<config>/sdcluster`), else
/// `share/sdcluster/models/shapes` beside an installed binary, else `models/shapes` in the
/// current directory.
enum DefaultModel {
    static var path: String {
        if let env = ProcessInfo.processInfo.environment["SDCLUSTER_MODEL"], !env.isEmpty { return env }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            exe.appendingPathComponent("../../../models/shapes").standardized.path,   // .build/x86_64-unknown-linux-gnu/release
            exe.appendingPathComponent("../../models/shapes").standardized.path,      // .build/release
            exe.appendingPathComponent("../share/sdcluster/models/shapes").standardized.path,
            FileManager.default.currentDirectoryPath + "/models/shapes",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/model_index.json") } ?? "models/shapes"
    }

    /// The CLIP tokenizer shipped with the default model, for single-file checkpoints without one.
    static var tokenizerDirectory: String { path + "/tokenizer" }
}
