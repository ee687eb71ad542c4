package dev.iteralite.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PreTokenizerTest {
  private static List<String> split(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    List<String> out = new ArrayList<>();
    PreTokenizer.split(b, 0, b.length, (f, t) -> out.add(new String(b, f, t - f, StandardCharsets.UTF_8)));
    return out;
  }

  @Test
  void splitsLikeGpt2WithoutContractions() {
    assertEquals(List.of("Hello", ",", " world", "!", " ", " It", "'", "s", " 2024", ".", "\n\n", "ok"),
        split("Hello, world!  It's 2024.\n\nok"));
    assertEquals(List.of(" =", " Valkyria", " Chronicles", " III", " =", " \n"), split(" = Valkyria Chronicles III = \n"));
    assertEquals(List.of(" 1", " @-@", " 2", " café", " 東京"), split(" 1 @-@ 2 café 東京"));
    assertEquals(List.of(), split(""));
    assertEquals(List.of("   "), split("   "));
  }

  @Test
  void cutsLongRunsAndStaysLossless() {
    List<String> parts = split("x".repeat(PreTokenizer.MAX_LENGTH * 2 + 3));
    assertEquals(3, parts.size());
    assertEquals(PreTokenizer.MAX_LENGTH, parts.get(0).length());
    for (byte[] b : RoundTripTest.samples()) {
      int[] pos = {0};
      PreTokenizer.split(b, 0, b.length, (f, t) -> {
        assertEquals(pos[0], f);
        assertEquals(true, t > f && t - f <= PreTokenizer.MAX_LENGTH);
        pos[0] = t;
      });
      assertEquals(b.length, pos[0]);
    }
  }
}
