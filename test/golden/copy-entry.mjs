// paranoid-pipes encrypter copy, generated "2026-11-22T00:00:00.000Z" by paranoid-pipes "0.1.0".
// Everything this copy does is baked below; it reads no config, no environment, no options.
// Regenerate it with the paranoid-pipes generator to change anything.
import { runCopy } from "@paranoid-pipes/runtime";

const BAKED = Object.freeze({"format":1,"copyVersion":"0.1.0","generatedAt":"2026-11-22T00:00:00.000Z","recipients":[{"fingerprint":"ABCD","userIds":["Admin <admin@example.org>"],"armoredKey":"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n"}],"pipe":{"path":"/run/paranoid-pipes/www.pipe","owner":{"uid":990,"gid":4,"label":"pplog:adm"},"mode":400},"output":{"path":"/var/log/paranoid-pipes/www.log.asc","owner":{"uid":990,"gid":4,"label":"pplog:adm"},"mode":416},"runAs":{"uid":990,"gid":4,"label":"pplog:adm","groups":[990,4]},"compress":"zlib","armor":true,"sessionKeyWindowMs":60000,"quitString":"stop-7f3a9c2e1b","header":["# vhost www.example.org"],"logLevel":"info","overload":{"maxBufferBytes":8388608,"policy":"block"},"heartbeatMs":null,"rotation":null,"saveOwner":{"uid":0,"gid":990,"label":"root:pplog"}});

process.exitCode = await runCopy(BAKED, process.argv.slice(2), import.meta.url);
