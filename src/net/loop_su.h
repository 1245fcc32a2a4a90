/* The sofia-sip side of the loop, for the modules that talk to the SIP stack or register
 * sockets in it (sipua, net, cpmd). pf and store never include this (layer rules). */
#ifndef CPMD_NET_LOOP_SU_H
#define CPMD_NET_LOOP_SU_H

#include <sofia-sip/su_wait.h>

#include "net/loop.h"

su_root_t *loop_su_root(struct loop *l);

#endif
