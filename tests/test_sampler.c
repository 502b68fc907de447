// test_sampler.c: the sampler on distributions whose answer is known in
// closed form, the empirical frequencies of many draws, greedy decoding,
// reproducibility from a seed, and refused configs.
#include <math.h>

#include "models/sampler.h"
#include "test.h"

// p = [0.1, 0.4, 0.2, 0.3] as logits (up to a constant).
static const float base_p[4] = {0.1f, 0.4f, 0.2f, 0.3f};

static void logits_of(const float *p, float *logits, int n) {
    for (int i = 0; i < n; i++) logits[i] = logf(p[i]) + 3.0f;  // an offset must not matter
}

static void check_distribution(const char *what, float temperature, int top_k, float top_p,
                               const float *want) {
    SamplerConfig cfg = {temperature, top_k, top_p};
    Sampler s;
    CHECK(sampler_init(&s, &cfg, 4, 1) == 0, "%s: init: %s", what, tb_last_error());
    float logits[4], got[4];
    logits_of(base_p, logits, 4);
    sampler_distribution(&s, logits, got);
    check_close(what, got, want, 4, 1e-7f, 1e-6f);

    // 200000 draws: every frequency within 5 standard errors of the
    // distribution, and never a filtered token. Seeded, so not flaky.
    enum { DRAWS = 200000 };
    int counts[4] = {0};
    for (int i = 0; i < DRAWS; i++) counts[sampler_sample(&s, logits)]++;
    for (int i = 0; i < 4; i++) {
        double f = (double)counts[i] / DRAWS, sd = sqrt(want[i] * (1 - want[i]) / DRAWS);
        if (want[i] == 0.0f)
            CHECK(counts[i] == 0, "%s: filtered token %d drawn %d times", what, i, counts[i]);
        else
            CHECK(fabs(f - want[i]) <= 5 * sd, "%s: token %d drawn with frequency %.4f, want %.4f",
                  what, i, f, want[i]);
    }
    sampler_free(&s);
}

static void test_known_distributions(void) {
    float plain[4] = {0.1f, 0.4f, 0.2f, 0.3f};
    check_distribution("temperature 1", 1.0f, 0, 1.0f, plain);
    // Temperature 0.5 squares the probabilities: [1, 16, 4, 9] / 30.
    float sharp[4] = {1 / 30.f, 16 / 30.f, 4 / 30.f, 9 / 30.f};
    check_distribution("temperature 0.5", 0.5f, 0, 1.0f, sharp);
    // Temperature 2 takes square roots.
    double r[4] = {sqrt(0.1), sqrt(0.4), sqrt(0.2), sqrt(0.3)}, rs = r[0] + r[1] + r[2] + r[3];
    float flat[4] = {(float)(r[0] / rs), (float)(r[1] / rs), (float)(r[2] / rs), (float)(r[3] / rs)};
    check_distribution("temperature 2", 2.0f, 0, 1.0f, flat);
    float top2[4] = {0, 0.4f / 0.7f, 0, 0.3f / 0.7f};
    check_distribution("top-k 2", 1.0f, 2, 1.0f, top2);
    float top3[4] = {0, 0.4f / 0.9f, 0.2f / 0.9f, 0.3f / 0.9f};
    check_distribution("top-k 3", 1.0f, 3, 1.0f, top3);
    check_distribution("top-k larger than V", 1.0f, 10, 1.0f, plain);
    // Nucleus 0.6: 0.4 is not enough, 0.4 + 0.3 is.
    check_distribution("top-p 0.6", 1.0f, 0, 0.6f, top2);
    float only1[4] = {0, 1, 0, 0};
    check_distribution("top-p 0.35 keeps one token", 1.0f, 0, 0.35f, only1);
    check_distribution("top-p 0.05 keeps one token", 1.0f, 0, 0.05f, only1);
    // top-k 3 then top-p 0.7 of the renormalised set {0.444, 0.333, 0.222}:
    // 0.444 + 0.333 = 0.778 >= 0.7.
    check_distribution("top-k 3 then top-p 0.7", 1.0f, 3, 0.7f, top2);
    check_distribution("greedy", 0.0f, 0, 1.0f, only1);
}

static void test_greedy_and_seeds(void) {
    enum { V = 1000, N = 300 };
    float *logits = tb_malloc(V * sizeof(float));
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < V; i++) logits[i] = 3.0f * rng_normal(&r);
    logits[617] = 50.0f;
    SamplerConfig greedy = {0.0f, 0, 1.0f};
    Sampler g;
    sampler_init(&g, &greedy, V, 1);
    int all617 = 1;
    for (int i = 0; i < 10; i++) all617 &= sampler_sample(&g, logits) == 617;
    CHECK(all617, "greedy did not pick the maximum");
    sampler_free(&g);
    logits[617] = 0.0f;

    SamplerConfig cfg = {0.9f, 50, 0.95f};
    Sampler a, b, c;
    sampler_init(&a, &cfg, V, 42);
    sampler_init(&b, &cfg, V, 42);
    sampler_init(&c, &cfg, V, 43);
    int same = 1, differ = 0;
    for (int i = 0; i < N; i++) {
        int32_t x = sampler_sample(&a, logits), y = sampler_sample(&b, logits), z = sampler_sample(&c, logits);
        same &= x == y;
        differ += x != z;
        logits[x] -= 0.5f;  // the logits move along with the draws, as in generation
    }
    CHECK(same, "two samplers with one seed drew different sequences");
    CHECK(differ > N / 2, "seeds 42 and 43 drew nearly the same sequence (%d of %d differ)", differ, N);
    sampler_free(&a), sampler_free(&b), sampler_free(&c);
    free(logits);
}

static void test_bad_configs(void) {
    Sampler s;
    SamplerConfig bad[4] = {{-1.0f, 0, 1.0f}, {1.0f, -3, 1.0f}, {1.0f, 0, 0.0f}, {1.0f, 0, 1.5f}};
    const char *needle[4] = {"temperature", "top_k", "top_p", "top_p"};
    for (int i = 0; i < 4; i++) {
        int rc = sampler_init(&s, &bad[i], 10, 1);
        CHECK(rc != 0 && strstr(tb_last_error(), needle[i]), "bad config %d accepted or unclear: %s", i,
              tb_last_error());
    }
}

int main(void) {
    test_known_distributions();
    test_greedy_and_seeds();
    test_bad_configs();
    return test_summary("test_sampler");
}
