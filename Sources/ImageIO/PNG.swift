import CPNG
import Foundation

/// PNG encoding and decoding through libpng's simplified API (`png_image_*`, which needs no
/// `setjmp`), plus text chunks that this module writes and reads itself.
///
/// Checked by hand (2026-11-28): Pillow 13.0 opens files written here as RGB with the same
/// pixels and reads back both a `tEXt` (Latin-1 "café") and an `iTXt` ("赤い ✨") chunk.
public enum PNG {
    /// Encodes `image` as an 8-bit RGB PNG. Each `(keyword, text)` pair becomes a `tEXt`
    /// chunk (or `iTXt` when the text is not Latin-1), placed right after IHDR.
    public static func encode(_ image: RGBImage, text: [(String, String)] = []) throws -> [UInt8] {
        guard image.width > 0, image.height > 0, image.width < Int(Int32.max) / 3,
              image.height < Int(Int32.max) else {
            throw PNGError.badSize(width: image.width, height: image.height)
        }
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        png.width = png_uint_32(image.width)
        png.height = png_uint_32(image.height)
        png.format = png_uint_32(PNG_FORMAT_RGB)
        let stride = png_int_32(image.width * 3)
        var size: png_alloc_size_t = 0
        // First call measures, second call writes.
        let measured = image.pixels.withUnsafeBytes { pixels in
            png_image_write_to_memory(&png, nil, &size, 0, pixels.baseAddress, stride, nil)
        }
        guard measured != 0 else { throw libpngError(&png) }
        var out = [UInt8](repeating: 0, count: Int(size))
        let written = image.pixels.withUnsafeBytes { pixels in
            out.withUnsafeMutableBytes { buffer in
                png_image_write_to_memory(&png, buffer.baseAddress, &size, 0, pixels.baseAddress, stride, nil)
            }
        }
        guard written != 0 else { throw libpngError(&png) }
        out.removeLast(out.count - Int(size))
        if text.isEmpty { return out }
        let chunks = try text.map { try PNGText.chunk(keyword: $0.0, text: $0.1) }
        return try PNGChunks.insertAfterIHDR(out, chunks: chunks)
    }

    /// Decodes any PNG libpng reads (gray, RGB, palette, with or without alpha, 8 or 16 bit)
    /// to 8-bit sRGB. Alpha is composited onto white. The chunk structure and CRCs are checked
    /// first, so damaged files fail with a precise error.
    public static func decode(_ bytes: [UInt8]) throws -> RGBImage {
        _ = try PNGChunks.read(bytes)
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        let begun = bytes.withUnsafeBytes { data in
            png_image_begin_read_from_memory(&png, data.baseAddress, data.count)
        }
        guard begun != 0 else { throw libpngError(&png) }
        png.format = png_uint_32(PNG_FORMAT_RGB)
        let width = Int(png.width), height = Int(png.height)
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        var white = png_color(red: 255, green: 255, blue: 255)
        let finished = pixels.withUnsafeMutableBytes { buffer in
            png_image_finish_read(&png, &white, buffer.baseAddress, png_int_32(width * 3), nil)
        }
        guard finished != 0 else { throw libpngError(&png) }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The `(keyword, text)` pairs of every `tEXt` and uncompressed `iTXt` chunk, in file order.
    public static func textChunks(_ bytes: [UInt8]) throws -> [(String, String)] {
        try PNGChunks.read(bytes).compactMap { chunk in
            guard chunk.type == "tEXt" || chunk.type == "iTXt" else { return nil }
            return try PNGText.parse(type: chunk.type, data: chunk.data)
        }
    }

    /// Encodes `image` (with `text` chunks) and writes it to `path`.
    public static func write(_ image: RGBImage, to path: String, text: [(String, String)] = []) throws {
        let bytes = try encode(image, text: text)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw PNGError.io(path: path, reason: "cannot write: \(FileErrors.reason(error))")
        }
    }

    /// Reads and decodes the PNG at `path`.
    public static func read(from path: String) throws -> RGBImage {
        try decode(readBytes(path))
    }

    /// Reads the text chunks of the PNG at `path`.
    public static func textChunks(at path: String) throws -> [(String, String)] {
        try textChunks(readBytes(path))
    }

    static func readBytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PNGError.io(path: path, reason: "cannot read the file (missing or not readable)")
        }
        return [UInt8](data)
    }

    private static func libpngError(_ png: inout png_image) -> PNGError {
        let message = withUnsafeBytes(of: png.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        png_image_free(&png)
        return .libpng(message.isEmpty ? "unknown error" : message)
    }
}
