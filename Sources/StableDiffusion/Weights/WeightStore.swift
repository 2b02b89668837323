import Compute
import Foundation

/// A diffusers-named view over the weights of one model component (UNet, text encoder or VAE).
///
/// Modules ask for each weight by its diffusers name and the shape their config implies; the store
/// reads it from whichever file holds it (under whatever name that file uses), widens it to float32
/// and remembers that it was used. After building a module, `checkAllUsed()` reports weights nobody
/// asked for, which catches a config that describes a smaller model than the file holds.
public final class WeightStore: @unchecked Sendable {
    /// Where one diffusers-named weight comes from.
    public struct Location: Sendable {
        public let file: SafeTensorsFile
        /// The tensor's name inside `file` (a CompVis name for single-file checkpoints).
        public let key: String
        /// The shape under the diffusers name; differs from the stored shape only by dropped
        /// size-1 dimensions (CompVis stores VAE attention projections as 1x1 convolutions), or in
        /// its first dimension when `rows` takes a part of the stored tensor.
        public let shape: [Int]
        /// Where the weight is one block of rows (along the first dimension) of a stored tensor:
        /// OpenCLIP keeps a layer's query, key and value projections in one `in_proj_weight`.
        public let rows: Range<Int>?
        /// Where the weight is the stored 2-D tensor transposed: OpenCLIP keeps `text_projection`
        /// as `[width, projection]` (used as `x @ P`), a linear layer's weight is `[projection, width]`.
        public let transposed: Bool

        public init(file: SafeTensorsFile, key: String, shape: [Int], rows: Range<Int>? = nil, transposed: Bool = false) {
            self.file = file
            self.key = key
            self.shape = shape
            self.rows = rows
            self.transposed = transposed
        }

        /// Reads the weight as float32 in `shape`.
        func read() throws -> Tensor {
            let stored = try file.tensor(key)
            if transposed {
                precondition(stored.shape.count == 2 && shape == [stored.shape[1], stored.shape[0]], "\(key) \(stored.shape) transposed is not \(shape)")
                let (r, c) = (stored.shape[0], stored.shape[1])
                let out = Tensor(uninitialized: shape)
                for i in 0..<r { for j in 0..<c { out.pointer[j * r + i] = stored.pointer[i * c + j] } }
                return out
            }
            guard let rows else { return stored.reshaped(shape) }
            let rowSize = stored.shape.dropFirst().reduce(1, *)
            let out = Tensor(uninitialized: shape)
            precondition(out.count == rows.count * rowSize, "rows \(rows) of \(key) do not make \(shape)")
            out.pointer.update(from: stored.pointer + rows.lowerBound * rowSize, count: out.count)
            return out
        }
    }

    /// Names that models carry as buffers rather than parameters; never reported as surplus.
    public static let harmlessSuffixes = ["position_ids"]

    /// Names the files or component in messages (e.g. `sd15/unet`).
    public let source: String
    /// What to do when a weight's shape disagrees with the config, appended to the error.
    public let shapeHint: String
    private let locations: [String: Location]
    private let memory: [String: Tensor]
    /// Maps a requested name onto the stored one, for components whose names have two spellings.
    private let canonical: @Sendable (String) -> String
    private var used: Set<String> = []
    private let lock = NSLock()
    /// Updates added to weights as they are read (merged LoRAs), by canonical name.
    private var updates: [String: [WeightUpdate]] = [:]
    private var updateTime: Double = 0

    /// A store over weights located by name (used by the folder and single-file loaders).
    /// `canonicalName` maps names as modules may spell them onto the names in `locations`.
    public init(locations: [String: Location], source: String, shapeHint: String = WeightStore.defaultShapeHint,
                canonicalName: @escaping @Sendable (String) -> String = { $0 }) {
        self.locations = locations
        self.memory = [:]
        self.source = source
        self.shapeHint = shapeHint
        self.canonical = canonicalName
    }

    /// A store over the same files (and names) as `base` whose weights get `updates` added as
    /// they are read. Keys of `updates` are names as `base` knows them (`canonicalName`).
    /// Nothing of `base` is modified; it stays usable for the plain model.
    public init(base: WeightStore, updates: [String: [WeightUpdate]], source: String) {
        self.locations = base.locations
        self.memory = base.memory
        self.source = source
        self.shapeHint = base.shapeHint
        self.canonical = base.canonical
        self.updates = updates
    }

    private init(memory: [String: Tensor], source: String) {
        self.locations = [:]
        self.memory = memory
        self.source = source
        self.shapeHint = Self.defaultShapeHint
        self.canonical = { $0 }
    }

    public static let defaultShapeHint = "The config does not describe these weights; use the config.json that came with them."

    /// A store over the tensors of safetensors files, under the names those files use.
    /// `rename` maps a file's name to the diffusers name (identity by default); it is also applied
    /// to requested names, so it must map canonical names to themselves.
    public convenience init(files: [SafeTensorsFile], source: String,
                            rename: @escaping @Sendable (String) -> String = { $0 }) throws {
        var locations: [String: Location] = [:]
        for file in files {
            for name in file.names {
                let target = rename(name)
                guard locations[target] == nil else { throw WeightError.duplicateKey(source: source, key: target) }
                locations[target] = Location(file: file, key: name, shape: file.shape(of: name)!)
            }
        }
        self.init(locations: locations, source: source, canonicalName: rename)
    }

    /// A store over tensors already in memory: for tests and for random-weight benchmarks.
    public static func inMemory(_ tensors: [String: Tensor], source: String) -> WeightStore {
        WeightStore(memory: tensors, source: source)
    }

    /// All diffusers names, sorted.
    public var names: [String] { (Array(locations.keys) + Array(memory.keys)).sorted() }

    /// `name` as this store keys it (modules may spell some names two ways).
    public func canonicalName(_ name: String) -> String { canonical(name) }

    public func contains(_ name: String) -> Bool {
        let name = canonical(name)
        return locations[name] != nil || memory[name] != nil
    }

    /// The shape under the diffusers name, without reading data.
    public func shape(of name: String) -> [Int]? {
        let name = canonical(name)
        return locations[name]?.shape ?? memory[name]?.shape
    }

    /// The weight `name` as float32 with exactly `shape`, marked as used.
    ///
    /// A stored shape that differs from `shape` only by trailing size-1 dimensions is accepted
    /// (a 1x1 convolution kernel `[O, I, 1, 1]` read as a linear weight `[O, I]`, or the reverse):
    /// the element order is the same.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let found = self.shape(of: name) else { throw WeightError.missingKey(source: source, key: name) }
        guard Self.sameLayout(found, shape) else {
            throw WeightError.wrongShape(source: source, key: name, expected: shape, found: found,
                                         hint: shapeHint)
        }
        return try tensor(name).reshaped(shape)
    }

    /// The weight `name` as float32 in its stored (diffusers) shape, marked as used.
    public func tensor(_ name: String) throws -> Tensor {
        let name = canonical(name)
        let result: Tensor
        if let location = locations[name] {
            result = try location.read()
        } else if let stored = memory[name] {
            result = stored
        } else {
            throw WeightError.missingKey(source: source, key: name)
        }
        lock.lock()
        used.insert(name)
        lock.unlock()
        guard let pending = updates[name] else { return result }
        let start = Date()
        // A tensor read from a file is this call's own; one held in memory may be shared with
        // the plain model, so it is copied before the update is added.
        let merged = locations[name] != nil ? result : result.copy()
        for update in pending { try update.add(to: merged) }
        lock.lock()
        updateTime += Date().timeIntervalSince(start)
        lock.unlock()
        return merged
    }

    /// Seconds spent adding updates (merging LoRAs) so far, reading their factors included.
    public var updateSeconds: Double {
        lock.lock()
        defer { lock.unlock() }
        return updateTime
    }

    /// Names that were never requested, excluding harmless buffers.
    public var unusedNames: [String] {
        lock.lock()
        defer { lock.unlock() }
        return names.filter { name in
            !used.contains(name) && !Self.harmlessSuffixes.contains { name.hasSuffix($0) }
        }
    }

    /// Names with an update (a LoRA layer) that no module read, so the update never took effect.
    public var unappliedUpdates: [String] {
        lock.lock()
        defer { lock.unlock() }
        return updates.keys.filter { !used.contains($0) }.sorted()
    }

    /// Throws `WeightError.surplusKeys` listing every weight no module asked for.
    public func checkAllUsed() throws {
        let surplus = unusedNames
        // The LoRA message first: it names the cause when a surplus weight carries an update.
        let unapplied = unappliedUpdates
        if !unapplied.isEmpty { throw WeightError.unappliedUpdates(source: source, keys: unapplied) }
        if !surplus.isEmpty { throw WeightError.surplusKeys(source: source, keys: surplus) }
    }

    static func sameLayout(_ a: [Int], _ b: [Int]) -> Bool {
        func trimmed(_ s: [Int]) -> ArraySlice<Int> {
            var s = s[...]
            while s.count > 1, s.last == 1 { s = s.dropLast() }
            return s
        }
        return trimmed(a) == trimmed(b)
    }
}
