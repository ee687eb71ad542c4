package dev.iteralite.tokenizer;

import dev.iteralite.testing.TestData;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real-data tests on WikiText-2 and Tiny Shakespeare; skipped when the shared data is absent. */
class WikiTextTokenizerTest {
  @Test
  void bpe4096MergesOnWikiText2Train(@TempDir Path dir) throws IOException {
    byte[] train = Files.readAllBytes(TestData.require("wikitext-2/train.txt"));
    byte[] valid = Files.readAllBytes(TestData.require("wikitext-2/valid.txt"));
    long t0 = System.nanoTime();
    BpeTokenizer t = BpeTrainer.train(train, 4096);
    double seconds = (System.nanoTime() - t0) / 1e9;
    System.out.printf("bpe: 4096 merges on WikiText-2 train (%d bytes) in %.2f s%n", train.length, seconds);
    assertEquals(256 + 4096, t.vocabSize());
    assertTrue(seconds < 60, "training took " + seconds + " s");
    int[] ids = t.encode(valid);
    double perByte = ids.length / (double) valid.length;
    System.out.printf("bpe-4352: WikiText-2 valid %d bytes -> %d tokens (%.4f tokens/byte)%n",
        valid.length, ids.length, perByte);
    // Measured 0.2793 tokens/byte (313,268 tokens); bound with a little slack.
    assertTrue(perByte < 0.29, "tokens per byte " + perByte);
    assertArrayEquals(valid, t.decode(ids));
    Path f = dir.resolve("bpe.tok");
    Tokenizers.save(t, f);
    assertArrayEquals(ids, Tokenizers.load(f).encode(valid));
  }

  @Test
  void wordVocabularyIsTheClassicWikiText2One() throws IOException {
    WordTokenizer t = WordTokenizer.train(TestData.require("wikitext-2/train.txt"));
    // Published WikiText-2 figures (also in the data README): vocabulary 33,278 with <eos>;
    // 217,646 validation and 245,569 test tokens once one <eos> per line is counted.
    assertEquals(33278, t.vocabSize());
    byte[] valid = Files.readAllBytes(TestData.require("wikitext-2/valid.txt"));
    byte[] test = Files.readAllBytes(TestData.require("wikitext-2/test.txt"));
    int[] v = t.encode(valid);
    assertEquals(217646, v.length);
    assertEquals(245569, t.encode(test).length);
    assertEquals(3760, java.util.Arrays.stream(v).filter(id -> id == WordTokenizer.EOS).count());
    // The text has no out-of-vocabulary words (rare ones are already <unk>): 11,718 <unk> in valid.
    assertEquals(11718, java.util.Arrays.stream(v).filter(id -> id == WordTokenizer.UNK).count());
    assertArrayEquals(v, t.encode(t.decode(v)));
    assertEquals("the", t.word(2));
  }

  @Test
  void charVocabularyOfTinyShakespeare() throws IOException {
    byte[] text = Files.readAllBytes(TestData.require("tinyshakespeare/input.txt"));
    CharTokenizer t = CharTokenizer.train(text);
    assertEquals(65 + 1, t.vocabSize()); // 65 distinct characters (data README) + unknown
    int[] ids = t.encode(text);
    assertEquals(text.length, ids.length);
    assertArrayEquals(text, t.decode(ids));
  }
}
