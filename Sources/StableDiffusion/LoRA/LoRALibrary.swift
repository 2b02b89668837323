import Foundation

/// The LoRA files of `--lora-dir`, found by name and opened once (headers only; tensor data is
/// read when a layer is merged).
///
/// A name is the file name without `.safetensors`, as AUTOMATIC1111 shows it: `myStyle` is
/// `DIR/myStyle.safetensors`, else the one file of that name anywhere under `DIR` (subfolders
/// are searched; two files of one name are an error naming both). `sub/myStyle` names
/// `DIR/sub/myStyle.safetensors` exactly.
public final class LoRALibrary: @unchecked Sendable {
    public let directory: String?
    private var opened: [String: LoRAFile] = [:]
    private var index: [String: [String]]?
    private let lock = NSLock()

    public init(directory: String?) {
        self.directory = directory.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// The LoRA called `name`. Throws `LoRAError.notFound` (no folder, no file, two files) or
    /// what opening the file throws.
    public func file(named name: String) throws -> LoRAFile {
        lock.lock()
        defer { lock.unlock() }
        if let file = opened[name] { return file }
        let file = try LoRAFile(path: try path(of: name))
        opened[name] = file
        return file
    }

    /// The names of every LoRA in the folder that a name finds unambiguously (file stems that
    /// occur once), sorted: what a worker offers.
    public func availableNames() -> [String] {
        lock.lock()
        defer { lock.unlock() }
        guard directory != nil else { return [] }
        return stemIndex().filter { $0.value.count == 1 }.keys.sorted()
    }

    private func path(of name: String) throws -> String {
        guard let directory else { throw LoRAError.notFound(name: name, directory: nil, detail: "") }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
            throw LoRAError.notFound(name: name, directory: directory, detail: "the LoRA folder does not exist")
        }
        let direct = "\(directory)/\(name).safetensors"
        if FileManager.default.fileExists(atPath: direct) { return direct }
        for ext in SafeTensorsFile.pickleExtensions.sorted() where FileManager.default.fileExists(atPath: "\(directory)/\(name).\(ext)") {
            throw LoRAError.unreadable(file: "\(directory)/\(name).\(ext)", detail: "pickle files are refused (unpickling can run "
                + "code); get the .safetensors version of this LoRA")
        }
        let matches = stemIndex()[name] ?? []
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty {
            throw LoRAError.notFound(name: name, directory: directory, detail: "no file \(name).safetensors")
        }
        throw LoRAError.notFound(name: name, directory: directory,
                                 detail: "several files are called \(name).safetensors (\(matches.joined(separator: ", "))); "
                                    + "name one by its subfolder, e.g. sub/\(name),")
    }

    /// File stem -> paths of every `.safetensors` under the folder, built on first need.
    private func stemIndex() -> [String: [String]] {
        if let index { return index }
        var built: [String: [String]] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory ?? "")
        while let relative = enumerator?.nextObject() as? String {
            guard relative.lowercased().hasSuffix(".safetensors") else { continue }
            let stem = ((relative as NSString).lastPathComponent as NSString).deletingPathExtension
            built[stem, default: []].append("\(directory!)/\(relative)")
        }
        for key in built.keys { built[key]!.sort() }
        index = built
        return built
    }
}
