/* Calls the _r lookups with a buffer of the size given, as a program with a
 * small buffer would, and prints what glibc returned (rc and the entry).
 *   lookup pw NAME BUFLEN | lookup gr NAME BUFLEN | lookup grouplist NAME */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    size_t len = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
    char *buf = malloc(len ? len : 1);
    if (strcmp(argv[1], "pw") == 0) {
        struct passwd pw, *res = NULL;
        int rc = getpwnam_r(argv[2], &pw, buf, len, &res);
        printf("rc=%s\n", rc == ERANGE ? "ERANGE" : rc == 0 ? "0" : strerror(rc));
        if (res) printf("%s:%u:%u:%zu\n", pw.pw_name, pw.pw_uid, pw.pw_gid, strlen(pw.pw_gecos));
    } else if (strcmp(argv[1], "gr") == 0) {
        struct group gr, *res = NULL;
        int rc = getgrnam_r(argv[2], &gr, buf, len, &res);
        printf("rc=%s\n", rc == ERANGE ? "ERANGE" : rc == 0 ? "0" : strerror(rc));
        if (res) {
            int n = 0;
            while (gr.gr_mem[n]) n++;
            printf("%s:%u:%d\n", gr.gr_name, gr.gr_gid, n);
        }
    } else if (strcmp(argv[1], "grouplist") == 0) {
        /* Start with room for one group: initgroups_dyn must grow the array. */
        gid_t *groups = malloc(sizeof(gid_t));
        int n = 1;
        struct passwd *pw = getpwnam(argv[2]);
        if (!pw) { printf("no user\n"); return 1; }
        while (getgrouplist(argv[2], pw->pw_gid, groups, &n) == -1)
            groups = realloc(groups, n * sizeof(gid_t));
        printf("n=%d\n", n);
        for (int i = 0; i < n; i++) printf("%u\n", groups[i]);
    }
    return 0;
}
