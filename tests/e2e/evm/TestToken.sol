// SPDX-License-Identifier: MIT
// TestToken: the smallest ERC-20 the EVM rail's e2e tests need (6 decimals,
// like USDC). The deployer mints, and can block a recipient, after which a
// transfer to it reverts: how a test makes a transfer fail on chain.
// Compiled with solc-js 0.8.19 (npm "solc"), optimizer on, 200 runs:
// tests/e2e/evm/TestToken.bin is its creation bytecode (see README.md).
pragma solidity 0.8.19;

contract TestToken {
    string public constant name = "Test USD Coin";
    string public constant symbol = "TUSDC";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    address public immutable owner;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public blocked;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor() { owner = msg.sender; }

    function mint(address to, uint256 value) external {
        require(msg.sender == owner, "not owner");
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function setBlocked(address who, bool b) external {
        require(msg.sender == owner, "not owner");
        blocked[who] = b;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 a = allowance[from][msg.sender];
        require(a >= value, "allowance");
        allowance[from][msg.sender] = a - value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) internal {
        require(!blocked[to], "recipient blocked");
        uint256 b = balanceOf[from];
        require(b >= value, "balance");
        balanceOf[from] = b - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
