import ArgumentParser
import Foundation
import StableDiffusion

/// `sdcluster tokenize`: how CLIP's tokenizer reads a prompt, and what it cuts.
struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Show the CLIP token ids and strings of a prompt, and whether it is truncated.",
        discussion: """
            Prints one line per token (id and vocabulary string; `</w>` marks a word end; \
            non-ASCII tokens also show their text, U+FFFD for part of a character), then \
            the ids the text encoder receives (start token, at most LENGTH - 2 tokens, end \
            token, padding). Tokens past the limit are listed as cut and counted in a warning. \
            This is the literal reading (diffusers'); `--chunks` shows how `generate` reads the \
            prompt by default (AUTOMATIC1111's syntax): its 75-token chunks and each token's weight.
            """)

    @Option(name: .long, help: ArgumentHelp(
        "A diffusers model folder (its tokenizer/ is used) or a tokenizer folder (vocab.json, merges.txt). Default: the shipped shapes model, found as `generate` finds it.",
        valueName: "DIR"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp(
        "Token sequence length including start and end tokens (default: the tokenizer's model_max_length, 77 for SD v1).",
        valueName: "N"))
    var length: Int?

    @Flag(name: .long, help: "Print only the padded ids, as one JSON array.")
    var idsOnly = false

    @Flag(name: .long, help: "Show the prompt read with AUTOMATIC1111's syntax, as generate reads it by default: its 75-token chunks (BREAK, the comma rule) and every token's emphasis weight.")
    var chunks = false

    @Argument(help: "The prompt to tokenize (quote it).")
    var prompt: String

    func validate() throws {
        if let length, length < 2 {
            throw ValidationError("--length must be at least 2: room for the start and end tokens.")
        }
    }

    func run() async throws {
        let tokenizer = try CLIPTokenizer(directory: try Self.tokenizerFolder(model ?? DefaultModel.path))
        let length = self.length ?? tokenizer.modelMaxLength
        if chunks { return try printChunks(tokenizer: tokenizer, length: length) }
        let tokenized = tokenizer.tokenize(prompt, length: length)
        if idsOnly {
            print("[" + tokenized.ids.map(String.init).joined(separator: ", ") + "]")
        } else {
            printTable(tokenizer: tokenizer, tokenized: tokenized, length: length)
        }
        if let dropped = tokenized.droppedText {
            // Long cut-offs are shortened: the warning is for reading, the count says how much.
            let shown = dropped.count > 200 ? dropped.prefix(200) + "..." : dropped
            FileHandle.standardError.write(Data(("warning: the prompt is \(tokenized.truncatedTokenCount) tokens "
                + "over the limit of \(length - 2); the text encoder never sees: \"\(shown)\"\n").utf8))
        }
    }

    private func printTable(tokenizer: CLIPTokenizer, tokenized: TokenizedPrompt, length: Int) {
        let content = tokenizer.encode(prompt)
        let kept = length - 2
        let rows = [(tokenizer.startID, "")] + content.enumerated().map { ($0.element, $0.offset < kept ? "" : "  (cut)") }
            + [(tokenizer.endID, "")]
        let strings = tokenizer.tokenStrings(rows.map(\.0))
        for ((id, note), string) in zip(rows, strings) {
            let idText = String(id)
            // Byte characters of non-ASCII text are unreadable; show the decoded text beside them.
            let readable = string.unicodeScalars.allSatisfy(\.isASCII) ? "" : "  \"\(tokenizer.decode([id]))\""
            print(String(repeating: " ", count: max(0, 6 - idText.count)) + idText + "  " + string + readable + note)
        }
        let status = tokenized.wasTruncated
            ? "truncated: \(tokenized.truncatedTokenCount) of \(content.count) tokens cut"
            : "not truncated"
        print("\(content.count) tokens (limit \(kept)), \(status)")
        print("ids (\(length)): [" + tokenized.ids.map(String.init).joined(separator: ", ") + "]")
    }

    /// The tokenizer folder for `--model`: `DIR/tokenizer` when it holds one, else `DIR`.
    static func tokenizerFolder(_ directory: String) throws -> String {
        let nested = URL(fileURLWithPath: directory).appendingPathComponent("tokenizer")
        if FileManager.default.fileExists(atPath: nested.appendingPathComponent("vocab.json").path) {
            return nested.path
        }
        if FileManager.default.fileExists(atPath: URL(fileURLWithPath: directory).appendingPathComponent("vocab.json").path) {
            return directory
        }
        throw NoTokenizerFolder(directory: directory)
    }
}

/// `--model` names a folder that holds no tokenizer.
struct NoTokenizerFolder: Error, CustomStringConvertible {
    let directory: String

    var description: String {
        "no tokenizer in \(directory): expected \(directory)/tokenizer/vocab.json (a diffusers model folder) "
            + "or \(directory)/vocab.json (a tokenizer folder). Pass --model DIR."
    }
}
