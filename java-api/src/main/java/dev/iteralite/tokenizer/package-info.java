/**
 * Tokenizers: bytes to token ids and back.
 *
 * <p>{@link dev.iteralite.tokenizer.Tokenizer} is the contract. Implementations: {@link
 * dev.iteralite.tokenizer.ByteTokenizer} (one id per byte), {@link
 * dev.iteralite.tokenizer.BpeTokenizer} (byte-level BPE, trained by {@link
 * dev.iteralite.tokenizer.BpeTrainer}), {@link dev.iteralite.tokenizer.WordTokenizer} (WikiText-style
 * words with {@code <unk>} and {@code <eos>}), {@link dev.iteralite.tokenizer.CharTokenizer}
 * (Unicode code points) and {@link dev.iteralite.tokenizer.Llama2cTokenizer} (llama2.c's
 * {@code tokenizer.bin}). Byte, BPE and llama2.c tokenizers are lossless for every byte sequence;
 * the word and char tokenizers document their limits.
 *
 * <h2>File format</h2>
 *
 * <p>{@link dev.iteralite.tokenizer.Tokenizers#save} writes every tokenizer in one format and
 * {@link dev.iteralite.tokenizer.Tokenizers#load} reads it back, dispatching on the type. All
 * integers are big-endian {@code int32}:
 *
 * <pre>
 * magic     8 bytes  "ITERATOK"
 * version   int32    1
 * typeLen   int32    1..32, then typeLen ASCII bytes: byte | bpe | word | char | llama2c | remapped
 * length    int32    payload length L (must equal the bytes left before the checksum)
 * payload   L bytes  type-specific, below
 * crc32     int32    CRC-32 of every byte before it
 *
 * byte:     (empty)
 * bpe:      int32 M; M × (int32 left, int32 right)   merge r makes id 256 + r; ids &lt; 256 + r
 * word:     int32 N; N × (int32 len, len bytes)      id order; entry 0 "&lt;unk&gt;", entry 1 "&lt;eos&gt;"
 * char:     int32 N; N × int32 code point           strictly ascending; id 0 = unknown, id i+1 = entry i
 * llama2c:  int32 max_token_length; int32 N; N × (int32 float bits of score, int32 len, len bytes)
 * remapped: int32 L; L bytes (a whole nested tokenizer file); int32 N; N × int32 kept base id
 *           (new id i = the base tokenizer's id entry i; written by vocabulary trimming)
 * </pre>
 *
 * <p>Loading checks everything and reports problems as {@link java.io.IOException} with the field
 * and byte offset: wrong magic, unsupported version, unknown type, truncation, checksum mismatch,
 * trailing bytes, and payloads that violate the rules above.
 */
package dev.iteralite.tokenizer;
