/* Authenticates USER through the PAM service SERVICE as su would: with the real
 * uid of the user who ran it (RUID) and the effective uid root. The uids are
 * switched after exec, so the dynamic loader is not in secure mode and
 * pam_wrapper (LD_PRELOAD) stays in effect. The password comes from argv.
 * Exit 0 on PAM_SUCCESS, 1 otherwise; the PAM error is printed. */
#define _GNU_SOURCE
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *password;

static int answer(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
    (void)msg;
    (void)data;
    struct pam_response *r = calloc(n, sizeof *r);
    if (!r)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++)
        r[i].resp = strdup(password);
    *resp = r;
    return PAM_SUCCESS;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: as_su RUID SERVICE USER PASSWORD\n");
        return 2;
    }
    uid_t ruid = (uid_t)atoi(argv[1]);
    password = argv[4];
    if (setresuid(ruid, 0, 0) != 0) {
        perror("setresuid");
        return 2;
    }
    struct pam_conv conv = {answer, NULL};
    pam_handle_t *h = NULL;
    int rc = pam_start(argv[2], argv[3], &conv, &h);
    if (rc == PAM_SUCCESS)
        rc = pam_authenticate(h, 0);
    printf("%s\n", pam_strerror(h, rc));
    pam_end(h, rc);
    return rc == PAM_SUCCESS ? 0 : 1;
}
