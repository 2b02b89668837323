import Foundation

/// Reference-counted, 64-byte-aligned float buffer behind a `Tensor`.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard let raw = aligned_alloc_64(bytes) else { fatalError("out of memory allocating \(bytes) bytes") }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { free(pointer) }
}

@inline(__always)
private func aligned_alloc_64(_ bytes: Int) -> UnsafeMutableRawPointer? {
    var out: UnsafeMutableRawPointer?
    let rounded = (bytes + 63) & ~63
    return posix_memalign(&out, 64, rounded) == 0 ? out : nil
}

/// A dense, row-major float32 tensor. Image-like activations inside the engine are stored
/// channels-last (`[N, H, W, C]`), which is what oneDNN's fastest CPU convolutions use and makes
/// attention's token matrix `[H*W, C]` a plain view; conversions to PyTorch's `[N, C, H, W]`
/// happen only at the boundaries.
public struct Tensor: @unchecked Sendable {
    public let shape: [Int]
    /// `var` only so that `isKnownUniquelyReferenced` can look at it; never reassigned.
    public private(set) var storage: TensorStorage

    public var count: Int { shape.reduce(1, *) }
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }

    /// Uninitialised tensor of the given shape.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// Zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.init(uninitialized: shape)
        pointer.initialize(repeating: 0, count: count)
    }

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    /// Same storage, another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    public init(shape: [Int], storage: TensorStorage) {
        precondition(storage.count >= shape.reduce(1, *))
        self.shape = shape
        self.storage = storage
    }

    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape)
        out.pointer.update(from: pointer, count: count)
        return out
    }

    /// This tensor to be written over when nothing else holds its storage (no other tensor or
    /// reshaped view), else a copy: how a residual becomes the output it is summed into without
    /// a second buffer. Pass a tensor with `consume` (or as a temporary) for it to be unique.
    public consuming func writable() -> Tensor {
        var tensor = consume self
        return tensor.isUniquelyReferenced() ? tensor : tensor.copy()
    }

    /// Whether nothing else (no other tensor, no reshaped view) holds this tensor's storage, so
    /// that an operation may write its output over it. The caller must own the tensor (a
    /// `consuming` parameter moved into a local `var`), or the answer is no.
    public mutating func isUniquelyReferenced() -> Bool { isKnownUniquelyReferenced(&storage) }

    /// Sample `index` of the leading (batch) dimension, copied.
    public func sample(_ index: Int) -> Tensor {
        let per = count / shape[0]
        let out = Tensor(uninitialized: [1] + shape.dropFirst())
        out.pointer.update(from: pointer + index * per, count: per)
        return out
    }

    /// Stacks tensors of equal shape `[1, ...]` (or `[k, ...]`) along the leading dimension.
    /// Throws `ShapeError` for no parts, or parts whose shapes differ after the leading dimension.
    public static func concatenateBatch(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first, !first.shape.isEmpty else {
            throw ShapeError("batch concatenation", expected: "at least one tensor of rank 1 or more", got: parts.first?.shape ?? [])
        }
        let tail = Array(first.shape.dropFirst())
        for p in parts where p.shape.isEmpty || Array(p.shape.dropFirst()) != tail {
            throw ShapeError("batch concatenation", expected: "[k] + \(tail) like the first part \(first.shape)", got: p.shape)
        }
        let n = parts.reduce(0) { $0 + $1.shape[0] }
        let out = Tensor(uninitialized: [n] + tail)
        var offset = 0
        for p in parts {
            out.pointer.advanced(by: offset).update(from: p.pointer, count: p.count)
            offset += p.count
        }
        return out
    }

    /// Largest absolute value, for error scales in tests and finiteness checks.
    public var maxAbs: Float {
        var m: Float = 0
        for i in 0..<count { m = max(m, abs(pointer[i])) }
        return m
    }

    public var allFinite: Bool {
        for i in 0..<count where !pointer[i].isFinite { return false }
        return true
    }
}

extension Tensor {
    /// `[N, C, H, W]` (PyTorch) to `[N, H, W, C]` (engine).
    /// Throws `ShapeError` for a tensor that is not rank 4.
    public func nchwToNHWC() throws -> Tensor {
        guard shape.count == 4 else { throw ShapeError("NCHW to NHWC", expected: "[N, C, H, W]", got: shape) }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let out = Tensor(uninitialized: [n, h, w, c])
        let src = pointer, dst = out.pointer
        for b in 0..<n {
            for ch in 0..<c {
                let s = src + (b * c + ch) * h * w
                let d = dst + b * h * w * c + ch
                for p in 0..<(h * w) { d[p * c] = s[p] }
            }
        }
        return out
    }

    /// `[N, H, W, C]` (engine) to `[N, C, H, W]` (PyTorch).
    /// Throws `ShapeError` for a tensor that is not rank 4.
    public func nhwcToNCHW() throws -> Tensor {
        guard shape.count == 4 else { throw ShapeError("NHWC to NCHW", expected: "[N, H, W, C]", got: shape) }
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let out = Tensor(uninitialized: [n, c, h, w])
        let src = pointer, dst = out.pointer
        for b in 0..<n {
            for ch in 0..<c {
                let d = dst + (b * c + ch) * h * w
                let s = src + b * h * w * c + ch
                for p in 0..<(h * w) { d[p] = s[p * c] }
            }
        }
        return out
    }
}
