import Foundation

/// Vectorised SiLU, x * sigmoid(x).
@inline(__always)
func siluVector(_ v: SIMD8<Float>) -> SIMD8<Float> {
    var e = SIMD8<Float>()
    for k in 0..<8 { e[k] = expf(-v[k]) }
    return v / (1 + e)
}

/// Cheap element-wise operations on tensors (the heavy lifting is in oneDNN primitives).
public enum Elementwise {
    /// x * sigmoid(x), element-wise.
    public static func silu(_ x: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let s = x.pointer, d = out.pointer
        Threads.parallelFor(x.count) { a, b in
            for i in a..<b { d[i] = s[i] / (1 + expf(-s[i])) }
        }
        return out
    }

    /// a + b (same shapes; `ShapeError` names b's shape otherwise).
    public static func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { throw ShapeError("add", expected: "the first operand's shape \(a.shape)", got: b.shape) }
        let out = Tensor(uninitialized: a.shape)
        let x = a.pointer, y = b.pointer, d = out.pointer
        Threads.parallelFor(a.count) { s, e in
            for i in s..<e { d[i] = x[i] + y[i] }
        }
        return out
    }

    /// x + v broadcast over the last dimension (`v` has the last dimension's size), per sample
    /// when `v` is `[N, C]` and x is `[N, ..., C]`.
    /// Throws `ShapeError` when `v` does not hold N x C values.
    public static func addPerSampleChannel(_ x: Tensor, _ v: Tensor) throws -> Tensor {
        guard x.shape.count >= 2, x.count > 0 else { throw ShapeError("broadcast add", expected: "[N, ..., C]", got: x.shape) }
        let c = x.shape[x.shape.count - 1], n = x.shape[0]
        guard v.count == n * c else { throw ShapeError("broadcast add onto \(x.shape)", expected: "[\(n), \(c)] values", got: v.shape) }
        let out = Tensor(uninitialized: x.shape)
        let rows = x.count / c / n
        let src = x.pointer, dst = out.pointer, vp = v.pointer
        for b in 0..<n {
            let base = b * rows * c
            Threads.parallelFor(rows, itemCost: c) { r0, r1 in
                for r in r0..<r1 {
                    let o = base + r * c
                    for i in 0..<c { dst[o + i] = src[o + i] + vp[b * c + i] }
                }
            }
        }
        return out
    }

    /// a * b (same shapes; `ShapeError` names b's shape otherwise), into a new tensor.
    public static func multiply(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { throw ShapeError("multiply", expected: "the first operand's shape \(a.shape)", got: b.shape) }
        let out = Tensor(uninitialized: a.shape)
        let x = a.pointer, y = b.pointer, d = out.pointer
        Threads.parallelFor(a.count) { s, e in
            for i in s..<e { d[i] = x[i] * y[i] }
        }
        return out
    }

    /// Multiplies every element by `s`.
    public static func scale(_ a: Tensor, _ s: Float) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        let x = a.pointer, d = out.pointer
        Threads.parallelFor(a.count) { b, e in
            for i in b..<e { d[i] = x[i] * s }
        }
        return out
    }

    /// Nearest-neighbour 2x upsampling of `[N, H, W, C]` (`ShapeError` for another rank).
    public static func upsampleNearest2x(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 4 else { throw ShapeError("2x upsampling", expected: "[N, H, W, C]", got: x.shape) }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let out = Tensor(uninitialized: [n, 2 * h, 2 * w, c])
        let src = x.pointer, dst = out.pointer
        Threads.parallelFor(n * 2 * h, itemCost: 2 * w * c) { r0, r1 in
            for r in r0..<r1 {
                let b = r / (2 * h), oy = r % (2 * h), iy = oy / 2
                for ox in 0..<(2 * w) {
                    (dst + ((b * 2 * h + oy) * 2 * w + ox) * c).update(from: src + ((b * h + iy) * w + ox / 2) * c, count: c)
                }
            }
        }
        return out
    }

    /// Concatenates channels-last tensors along the last dimension; `ShapeError` when their
    /// other dimensions differ.
    public static func concatChannels(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard !a.shape.isEmpty, a.shape.dropLast() == b.shape.dropLast(), a.shape.last! > 0, b.shape.last! > 0 else {
            throw ShapeError("channel concatenation", expected: "\(a.shape.dropLast()) + [channels] like the first operand \(a.shape)", got: b.shape)
        }
        let ca = a.shape.last!, cb = b.shape.last!
        var shape = a.shape
        shape[shape.count - 1] = ca + cb
        let out = Tensor(uninitialized: shape)
        let rows = a.count / ca
        let pa = a.pointer, pb = b.pointer, d = out.pointer
        Threads.parallelFor(rows, itemCost: ca + cb) { r0, r1 in
            for r in r0..<r1 {
                (d + r * (ca + cb)).update(from: pa + r * ca, count: ca)
                (d + r * (ca + cb) + ca).update(from: pb + r * cb, count: cb)
            }
        }
        return out
    }

    /// Row-wise softmax of `rows x cols` values in place, after multiplying by `scale`.
    public static func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, scale: Float) {
        Threads.parallelFor(rows, itemCost: 4 * cols) { r0, r1 in
            for r in r0..<r1 {
                let row = p + r * cols
                var m = -Float.infinity
                for i in 0..<cols { m = max(m, row[i]) }
                var sum: Float = 0
                for i in 0..<cols {
                    let e = expf((row[i] - m) * scale)
                    row[i] = e
                    sum += e
                }
                let inv = 1 / sum
                for i in 0..<cols { row[i] *= inv }
            }
        }
    }
}
