import NIOCore
import PostgresNIO
import RetentionCore
import RetentionStore

/// One column of rows as a PostgreSQL `text[]` parameter in the binary array format: a value's
/// text form as the column type's input function reads it (a number in decimal, bytes as `bytea`
/// hex), NULL as a null element.
struct TextArray: PostgresDynamicTypeEncodable {
    private var elements = ByteBuffer()
    private var count: Int32 = 0
    private var hasNull = false

    init(_ values: some Sequence<SQLValue>) {
        for value in values {
            count += 1
            guard let text = Self.text(of: value) else {
                elements.writeInteger(Int32(-1))
                hasNull = true
                continue
            }
            let length = elements.writerIndex
            elements.writeInteger(Int32(0))
            let written = elements.writeString(text)
            elements.setInteger(Int32(written), at: length)
        }
    }

    static func text(of value: SQLValue) -> String? {
        switch value {
        case .null: return nil
        case .integer(let n): return String(n)
        case .real(let d): return "\(d)"
        case .text(let s): return s
        case .blob(let bytes): return "\\x" + bytes.hexEncoded
        }
    }

    var psqlType: PostgresDataType { .textArray }
    var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        // Dimensions, whether an element is null, the elements' type; then the one dimension's
        // length and lower bound; then each element's length (-1: null) and bytes.
        byteBuffer.writeInteger(Int32(1))
        byteBuffer.writeInteger(Int32(hasNull ? 1 : 0))
        byteBuffer.writeInteger(PostgresDataType.text.rawValue)
        byteBuffer.writeInteger(count)
        byteBuffer.writeInteger(Int32(1))
        byteBuffer.writeImmutableBuffer(elements)
    }
}
