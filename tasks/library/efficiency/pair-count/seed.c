// Pair count: pairs i < j with a[i] + a[j] == K.
// Small arrays are checked pair by pair; large ones are sorted and scanned with two pointers.
#include <stdio.h>

#define BRUTE_FORCE_MAX_N 20000 // hone:tune 1..200000 log int
#define INSERTION_CUTOFF 1 // hone:tune 1..64 int

static long long a[200000];

static void insertion_sort(long long *v, int lo, int hi) {
    for (int i = lo + 1; i < hi; i++) {
        long long x = v[i];
        int j = i - 1;
        while (j >= lo && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

// Sorts v[lo, hi): quicksort down to INSERTION_CUTOFF elements, then insertion sort.
static void sort(long long *v, int lo, int hi) {
    while (hi - lo > INSERTION_CUTOFF && hi - lo > 1) {
        long long pivot = v[lo + (hi - lo) / 2];
        int i = lo, j = hi - 1;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                long long t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        // Recurse on the smaller side, loop on the larger one.
        if (j + 1 - lo < hi - i) {
            sort(v, lo, j + 1);
            lo = i;
        } else {
            sort(v, i, hi);
            hi = j + 1;
        }
    }
    insertion_sort(v, lo, hi);
}

int main(void) {
    int n;
    long long k;
    if (scanf("%d %lld", &n, &k) != 2) return 1;
    for (int i = 0; i < n; i++) {
        if (scanf("%lld", &a[i]) != 1) return 1;
    }
    long long count = 0;
    if (n <= BRUTE_FORCE_MAX_N) {
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                if (a[i] + a[j] == k) count++;
            }
        }
    } else {
        sort(a, 0, n);
        int i = 0, j = n - 1;
        while (i < j) {
            long long s = a[i] + a[j];
            if (s < k) {
                i++;
            } else if (s > k) {
                j--;
            } else if (a[i] == a[j]) {
                long long m = j - i + 1;
                count += m * (m - 1) / 2;
                break;
            } else {
                long long ci = 1, cj = 1;
                while (i + ci < j && a[i + ci] == a[i]) ci++;
                while (j - cj > i && a[j - cj] == a[j]) cj++;
                count += ci * cj;
                i += ci;
                j -= cj;
            }
        }
    }
    printf("%lld\n", count);
    return 0;
}
